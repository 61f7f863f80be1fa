package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@link TextLinesSink} writing to {@code file://} URIs through Flink's FileSystem, in a MiniCluster. */
class TextLinesSinkTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  @TempDir
  Path tmp;

  /** Throws once when it meets {@code failAt} (a marker file remembers it across the restart). */
  static final class FailOnceAt implements MapFunction<Long, String> {
    private static final long serialVersionUID = 1L;
    private final long failAt;
    private final String marker;

    FailOnceAt(long failAt, Path marker) {
      this.failAt = failAt;
      this.marker = marker.toString();
    }

    @Override
    public String map(Long v) throws Exception {
      if (v == failAt && !Files.exists(Path.of(marker))) {
        Files.createFile(Path.of(marker));
        throw new TestSupport.InjectedFailure("injected failure at " + v);
      }
      return "{\"n\": " + v + "}";
    }
  }

  private static void run(long n, long failAt, Path marker, String uri, int restarts) throws Exception {
    StreamExecutionEnvironment env = TestSupport.env(null, 0, restarts); // no checkpoints: a restart replays all
    env.fromSequence(1, n).map(new FailOnceAt(failAt, marker)).returns(Types.STRING)
        .sinkTo(new TextLinesSink(uri)).setParallelism(1);
    env.execute("text-lines");
  }

  private static List<String> expected(long from, long to) {
    return LongStream.rangeClosed(from, to).mapToObj(v -> "{\"n\": " + v + "}").toList();
  }

  /**
   * A task that fails and restarts reopens the file: the lines written before the failure are kept (Flink's
   * FileSystem cannot append; the writer copies the file and renames the copy over it), and the replay follows.
   */
  @Test
  void aRestartedWriterKeepsTheLinesWrittenBeforeTheFailure() throws Exception {
    Path file = tmp.resolve("reports/lines.jsonl");
    String uri = file.toUri().toString();
    assertTrue(uri.startsWith("file:///"), uri);
    run(2000, 1000, tmp.resolve("failed"), uri, 2);
    assertTrue(Files.exists(tmp.resolve("failed")), "the failure fired");
    List<String> want = new ArrayList<>(expected(1, 999)); // before the failure
    want.addAll(expected(1, 2000)); // the replay from the start
    assertEquals(want, Files.readAllLines(file));
    try (Stream<Path> s = Files.list(file.getParent())) {
      assertEquals(List.of("lines.jsonl"), s.map(p -> p.getFileName().toString()).toList(), "no temporary file");
    }
  }

  /** A second run into the same file (a restored run continuing its directory) appends; a torn last line is ended. */
  @Test
  void aLaterRunAppendsAndEndsATornLine() throws Exception {
    Path file = tmp.resolve("lines.jsonl");
    Files.writeString(file, "{\"n\": 0}\n{\"torn\":");
    String uri = file.toUri().toString();
    run(3, -1, tmp.resolve("unused"), uri, 0);
    run(2, -1, tmp.resolve("unused"), uri, 0);
    List<String> want = new ArrayList<>(List.of("{\"n\": 0}", "{\"torn\":"));
    want.addAll(expected(1, 3));
    want.addAll(expected(1, 2));
    assertEquals(want, Files.readAllLines(file));
    assertEquals(want, OutputFileSystem.readLines(uri));
  }
}
