package org.pml4j.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.nn.Sequential;

/**
 * Publishing into a place that cannot be written, and null arguments: an {@link IllegalArgumentException} (a bad
 * directory argument) or {@link IllegalStateException} (a directory that stopped being writable) whose message names
 * the path and the cause, instead of an {@code UncheckedIOException} or {@code NullPointerException}.
 */
class ModelPublisherBadInputTest {
  private static final byte[] MODEL = {1, 2, 3, 4};

  @Test
  void directoryThatCannotBeCreated(@TempDir Path tmp) throws Exception {
    Path file = Files.write(tmp.resolve("a-file"), new byte[] {0});
    // a regular file where the directory (or one of its parents) should be; works as root too, unlike permissions
    for (Path dir : new Path[] {file, file.resolve("models")}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ModelPublisher(dir, 3));
      assertTrue(e.getMessage().startsWith("cannot use " + dir.toAbsolutePath() + " as the publication directory: "),
          e.getMessage());
      assertTrue(e.getMessage().contains("Exception (" + file), e.getMessage()); // the cause and the path it names
    }
  }

  @Test
  void directoryThatStopsBeingWritable(@TempDir Path tmp) throws Exception {
    Path dir = tmp.resolve("models");
    ModelPublisher pub = new ModelPublisher(dir, 3);
    pub.publish(1, 10, MODEL);
    // the directory disappears and a file takes its place (a volume unmounted, a cleanup job...)
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    Files.write(dir, new byte[] {0});
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> pub.publish(2, 20, MODEL));
    assertTrue(e.getMessage().startsWith("publishing version 2 into " + dir.toAbsolutePath() + " failed: "),
        e.getMessage());
    assertTrue(e.getMessage().contains("Exception (" + dir.toAbsolutePath()), e.getMessage());
    // once the directory is back, publishing works again
    Files.delete(dir);
    Files.createDirectories(dir);
    assertEquals(3, pub.publish(3, 30, MODEL).version());
    assertArrayEquals(MODEL, ModelPublisher.readLatest(dir).bytes());
  }

  @Test
  void nullArgumentsAreNamed(@TempDir Path tmp) {
    assertEquals("dir must not be null",
        assertThrows(IllegalArgumentException.class, () -> new ModelPublisher((Path) null, 3)).getMessage());
    assertEquals("store must not be null",
        assertThrows(IllegalArgumentException.class, () -> new ModelPublisher((ModelStore) null, 3)).getMessage());
    ModelPublisher pub = new ModelPublisher(tmp, 3);
    assertEquals("model must not be null",
        assertThrows(IllegalArgumentException.class, () -> pub.publish(1, 1, null)).getMessage());
    assertEquals("encoder must not be null",
        assertThrows(IllegalArgumentException.class, () -> pub.publish((Sequential) null, 1, 1)).getMessage());
    assertTrue(ModelPublisher.readManifest(tmp).models().isEmpty());
  }
}
