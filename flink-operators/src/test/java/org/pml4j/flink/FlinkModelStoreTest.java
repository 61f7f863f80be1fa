package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.onnx.ModelPublisher;
import org.pml4j.onnx.ModelPublisher.Manifest;
import org.pml4j.onnx.ModelPublisher.ModelEntry;
import org.pml4j.onnx.ModelPublisher.PublishedModel;
import org.pml4j.onnx.ModelStore;

/** {@link ModelPublisher} through Flink's FileSystem ({@link FlinkModelStore}) with {@code file://} URIs. */
class FlinkModelStoreTest {
  @TempDir
  Path tmp;

  static byte[] payload(long version) {
    Random r = new Random(version * 7919 + 1);
    byte[] b = new byte[100_000 + r.nextInt(300_000)];
    r.nextBytes(b);
    return b;
  }

  private static List<String> names(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void publishesVersionsAndTheLatestPointerThroughAFileUri() throws Exception {
    Path dir = tmp.resolve("run/models"); // the parents do not exist yet
    String uri = dir.toUri().toString(); // file:///...
    assertTrue(uri.startsWith("file:///"), uri);
    FlinkModelStore store = new FlinkModelStore(uri);
    ModelPublisher pub = new ModelPublisher(store, 2);
    assertNull(ModelPublisher.readLatest(store));
    for (long v = 1; v <= 4; v++) {
      ModelEntry e = pub.publish(v, v * 10, payload(v));
      assertEquals(ModelPublisher.fileName(v), e.file());
    }
    Manifest m = ModelPublisher.readManifest(store);
    assertEquals(4, m.latest());
    assertEquals(List.of(4L, 3L), m.models().stream().map(ModelEntry::version).toList());
    assertEquals(40, m.newest().trainingStep());
    // only the kept versions, the manifest and no temporary file (no lock file: the Flink store has no locks)
    assertEquals(List.of(ModelPublisher.MANIFEST, ModelPublisher.fileName(3), ModelPublisher.fileName(4)),
        names(dir));
    PublishedModel latest = ModelPublisher.readLatest(store);
    assertArrayEquals(payload(4), latest.bytes());
    assertTrue(latest.location().startsWith("file:/")
        && latest.location().endsWith("/run/models/" + ModelPublisher.fileName(4)), latest.location());
    assertEquals(dir.resolve(ModelPublisher.fileName(4)), latest.path());
    // the same files through the java.nio readers
    assertArrayEquals(payload(4), ModelPublisher.readLatest(dir).bytes());
    assertEquals(m, ModelPublisher.readManifest(dir));
    IllegalArgumentException old = assertThrows(IllegalArgumentException.class, () -> pub.publish(4, 1, new byte[1]));
    assertEquals("version 4 is not newer than the published version 4", old.getMessage());
  }

  @Test
  void aNewPublisherRemovesWhatACrashedOneLeft() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("models"));
    FlinkModelStore store = new FlinkModelStore(dir.toUri().toString());
    new ModelPublisher(store, 3).publish(1, 1, payload(1));
    String leftover = ModelStore.temporaryName(ModelPublisher.fileName(2));
    Files.write(dir.resolve(leftover), new byte[] {1, 2}); // a temporary file of a crash
    Files.write(dir.resolve(ModelPublisher.fileName(2)), new byte[] {3}); // renamed, manifest never written
    Files.write(dir.resolve("notes.txt"), new byte[] {4}); // not the publisher's
    new ModelPublisher(store, 3);
    assertEquals(List.of(ModelPublisher.MANIFEST, ModelPublisher.fileName(1), "notes.txt"), names(dir));
  }

  @Test
  void aFileWhereTheDirectoryShouldBeIsNamed() throws Exception {
    Path file = Files.write(tmp.resolve("a-file"), new byte[] {0});
    String uri = file.toUri().toString();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new ModelPublisher(new FlinkModelStore(uri), 3));
    assertTrue(e.getMessage().startsWith("cannot use file:" + file + " as the publication directory: "),
        e.getMessage());
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
  }

  @Test
  void readingAMissingFileIsNoSuchFile() throws Exception {
    FlinkModelStore store = new FlinkModelStore(tmp.toUri().toString());
    assertThrows(NoSuchFileException.class, () -> store.read("nothing"));
    assertEquals(List.of(), new FlinkModelStore(tmp.resolve("absent").toUri().toString()).list());
  }

  /**
   * A reader beside the publisher, both through file:// URIs, never sees a partial file: every model file it finds
   * (named by the manifest or just listed) has the published content, and the manifest always parses.
   */
  @Test
  void concurrentReaderSeesCompleteFilesOnly() throws Exception {
    String uri = tmp.resolve("models").toUri().toString();
    FlinkModelStore store = new FlinkModelStore(uri);
    ModelPublisher pub = new ModelPublisher(store, 2);
    FlinkModelStore readerStore = new FlinkModelStore(uri);
    AtomicBoolean done = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger filesChecked = new AtomicInteger();
    Thread reader = new Thread(() -> {
      try {
        while (!done.get()) {
          for (ModelEntry e : ModelPublisher.readManifest(readerStore).models()) {
            try {
              assertArrayEquals(payload(e.version()), ModelPublisher.read(readerStore, e).bytes());
              filesChecked.incrementAndGet();
            } catch (NoSuchFileException pruned) {
              // pruned after the manifest was read: allowed
            }
          }
          for (String name : readerStore.list()) {
            if (name.startsWith("model-v")) {
              try {
                byte[] b = readerStore.read(name);
                long v = Long.parseLong(name.substring(7, 17));
                assertArrayEquals(payload(v), b, "complete content of " + name);
                filesChecked.incrementAndGet();
              } catch (NoSuchFileException pruned) {
                // pruned between listing and reading
              }
            }
          }
        }
      } catch (Throwable t) {
        failure.set(t);
      }
    }, "reader");
    reader.start();
    int versions = 25;
    for (long v = 1; v <= versions && failure.get() == null; v++) {
      pub.publish(v, v, payload(v));
    }
    done.set(true);
    reader.join();
    if (failure.get() != null) {
      throw new AssertionError("the reader saw a broken state", failure.get());
    }
    assertTrue(filesChecked.get() > 0, "the reader checked files");
    assertEquals(versions, ModelPublisher.readLatest(store).entry().version());
    assertFalse(names(tmp.resolve("models")).stream().anyMatch(ModelStore::isTemporary));
  }
}
