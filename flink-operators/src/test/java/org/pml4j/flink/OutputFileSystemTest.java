package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Output locations as URIs through Flink's FileSystem, and the checkpoint directory passed through untouched. */
class OutputFileSystemTest {
  @TempDir
  Path tmp;

  @Test
  void locationsBecomeUrisAndUrisStayAsGiven() {
    Path here = Path.of("pml4j-out/run").toAbsolutePath();
    assertEquals(here.toUri().toString(), OutputFileSystem.uri("pml4j-out/run"));
    assertEquals(here.resolve("checkpoints").toUri().toString(), OutputFileSystem.child("pml4j-out/run/",
        "checkpoints"));
    assertEquals("s3://bucket/runs/a/checkpoints", OutputFileSystem.child("s3://bucket/runs/a/", "checkpoints"));
    assertEquals("hdfs://nn:8020/runs/a", OutputFileSystem.uri("hdfs://nn:8020/runs/a"));
    assertEquals("file:///data/run/models", OutputFileSystem.child("file:///data/run", "models"));
    assertTrue(OutputFileSystem.isLocal("pml4j-out/run"));
    assertTrue(OutputFileSystem.isLocal("file:///data/run"));
    assertFalse(OutputFileSystem.isLocal("s3://bucket/run"));
    assertTrue(OutputFileSystem.isObjectStore(OutputFileSystem.path("s3://bucket/run")));
    assertFalse(OutputFileSystem.isObjectStore(OutputFileSystem.path("hdfs://nn/run")));
    assertFalse(OutputFileSystem.isObjectStore(OutputFileSystem.path("/data/run")));
    assertEquals("output location must not be null or blank",
        assertThrows(IllegalArgumentException.class, () -> OutputFileSystem.uri(" ")).getMessage());
  }

  /** The job's checkpoint directory is the output location's URI plus /checkpoints, never a java.nio path. */
  @Test
  void checkpointDirectoryUriIsPassedThrough() {
    for (String[] c : new String[][] {
        {"s3://bucket/runs/a", "s3://bucket/runs/a/checkpoints"},
        {"s3://bucket/runs/a/", "s3://bucket/runs/a/checkpoints"},
        {"hdfs://namenode:8020/pml4j", "hdfs://namenode:8020/pml4j/checkpoints"},
        {"file:///data/pml4j", "file:///data/pml4j/checkpoints"},
        {tmp.resolve("local").toString(), tmp.resolve("local/checkpoints").toUri().toString()}}) {
      StreamJobConfig sc = StreamJobConfig.fromArgs(new String[] {"--output-dir", c[0]});
      Configuration conf = JobEnvironment.jobConfiguration(sc);
      assertEquals(c[1], conf.get(CheckpointingOptions.CHECKPOINTS_DIRECTORY), c[0]);
      assertEquals("filesystem", conf.get(CheckpointingOptions.CHECKPOINT_STORAGE));
    }
  }

  @Test
  void writeAtomicallyReplacesAndLeavesNoTemporaryFile() throws Exception {
    String target = OutputFileSystem.child(tmp.toUri().toString(), "reports/summary.json"); // parent created
    OutputFileSystem.writeAtomically(target, "{\"a\": 1}".getBytes(StandardCharsets.UTF_8));
    OutputFileSystem.writeAtomically(target, "{\"a\": 2}\n{\"b\": 3}\n".getBytes(StandardCharsets.UTF_8));
    Path file = tmp.resolve("reports/summary.json");
    assertEquals("{\"a\": 2}\n{\"b\": 3}\n", Files.readString(file));
    assertEquals(List.of("{\"a\": 2}", "{\"b\": 3}"), OutputFileSystem.readLines(target));
    assertEquals(List.of(), OutputFileSystem.readLines(OutputFileSystem.child(tmp.toString(), "none.jsonl")));
    assertArrayEquals(Files.readAllBytes(file), OutputFileSystem.read(OutputFileSystem.path(target)));
    assertThrows(NoSuchFileException.class, () -> OutputFileSystem.read(OutputFileSystem.path(tmp + "/none")));
    try (Stream<Path> s = Files.list(tmp.resolve("reports"))) {
      assertEquals(List.of("summary.json"), s.map(p -> p.getFileName().toString()).toList());
    }
    assertEquals(List.of("summary.json"), OutputFileSystem.list(OutputFileSystem.path(tmp + "/reports")));
  }
}
