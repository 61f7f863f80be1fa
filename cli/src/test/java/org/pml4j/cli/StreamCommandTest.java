package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pml4j stream} on a small synthetic stream: summary.json, models, quality.png; duration parsing. */
class StreamCommandTest {
  @TempDir
  Path tmp;

  @Test
  void smallSyntheticStreamWritesSummaryModelsAndPlot() throws Exception {
    Path out = tmp.resolve("out");
    int rc = Main.commandLine().execute("stream", "--dataset", "synthetic", "--records", "960", "--heldout", "200",
        "--out", out.toString(), "--web-ui-port", "0", "--set", "synthetic.dimension=8", "--set", "synthetic.classes=4",
        "--set", "publish_every_steps=5", "--set", "batch_size=32", "--set", "checkpoint_interval_ms=500");
    assertEquals(0, rc);
    JsonNode s = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    // 960 records / 32 = 30 steps: v0 + a version every 5 steps (6) = 7.
    assertEquals(7, s.path("model_versions").asInt(), s.toString());
    for (String k : new String[] {"final", "untrained"}) {
      for (String m : new String[] {"precision_at_1", "mean_average_precision_at_r"}) {
        double v = s.path(k).path(m).asDouble(-1);
        assertTrue(v >= 0 && v <= 1, k + "." + m + " = " + v);
      }
    }
    assertTrue(s.path("samples_per_sec").asDouble() > 0);
    double wall = s.path("wall_samples_per_sec").asDouble();
    double busy = s.path("trainer_busy_share").asDouble();
    assertTrue(wall > 0, s.toString());
    assertTrue(busy > 0 && busy <= 1, s.toString());
    JsonNode v0 = s.path("versions").get(0);
    assertEquals(0, v0.path("step").asLong());
    assertTrue(v0.path("loss").isNull() && v0.path("last_step_loss").isNull(), v0.toString());
    JsonNode v1 = s.path("versions").get(1);
    assertTrue(v1.path("loss").asDouble() > 0, v1.toString());
    assertTrue(v1.path("published_at_ms").asLong() >= v0.path("published_at_ms").asLong()
        && v0.path("published_at_ms").asLong() > 1_600_000_000_000L, s.toString());
    assertTrue(v0.path("evaluated_at_ms").asLong() >= v0.path("published_at_ms").asLong(), v0.toString());
    assertEquals(0, s.path("rejected").asLong());
    assertTrue(s.path("refresh_latency_ms").has("p50") && s.path("refresh_latency_ms").has("max"));
    assertTrue(Files.exists(out.resolve("models").resolve("manifest.json")));
    BufferedImage png = ImageIO.read(out.resolve("quality.png").toFile());
    assertEquals(QualityPlot.WIDTH, png.getWidth());
    assertEquals(QualityPlot.HEIGHT, png.getHeight());
  }

  @Test
  void aNonEmptyDirectoryThatPml4jDidNotWriteIsRefusedAndLeftAlone() throws Exception {
    Path out = tmp.resolve("mine");
    Path important = Files.createDirectories(out.resolve("models")).resolve("important-model.onnx");
    Files.write(important, new byte[] {1, 2, 3});
    TrainExportEvalTest.Run r = TrainExportEvalTest.run("stream", "--dataset", "synthetic", "--records", "320",
        "--heldout", "50", "--out", out.toString(), "--web-ui-port", "0");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("pml4j stream: --out: output directory ")
        && r.err().contains("is not empty and is not a pml4j stream output"), r.err());
    assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(important));
    try (var files = Files.list(out)) {
      assertEquals(List.of(out.resolve("models")), files.toList(), "nothing written beside the user's files");
    }
  }

  /**
   * A run stopped by --duration prints its savepoint; a second run into the same --out restores from it and
   * continues to the end of the stream, and a file a user put into the run's directory survives both runs.
   */
  @Test
  void restoreIntoTheSameDirectoryFromItsSavepointContinuesTheRun() throws Exception {
    Path out = tmp.resolve("run");
    String[] common = {"stream", "--dataset", "synthetic", "--records", "3200", "--heldout", "100", "--out",
        out.toString(), "--web-ui-port", "0", "--evaluate", "none", "--set", "synthetic.dimension=8",
        "--set", "synthetic.classes=4", "--set", "publish_every_steps=10", "--set", "batch_size=32",
        "--set", "checkpoint_interval_ms=500"};
    List<String> first = new ArrayList<>(List.of(common));
    first.addAll(List.of("--duration", "5s", "--set", "records_per_second=300"));
    assertEquals(0, Main.commandLine().execute(first.toArray(String[]::new)));
    Path user = out.resolve("models").resolve("important-model.onnx");
    Files.write(user, new byte[] {4, 5, 6});
    List<Path> savepoints;
    try (var l = Files.list(out.resolve("savepoints"))) {
      savepoints = l.toList();
    }
    assertEquals(1, savepoints.size(), savepoints.toString());
    JsonNode stopped = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    long stoppedAt = stopped.path("final_step").asLong();
    assertTrue(stoppedAt > 0 && stoppedAt < 100, "stopped mid-stream: step " + stoppedAt);

    List<String> second = new ArrayList<>(List.of(common));
    second.addAll(List.of("--set", "restore_from=" + savepoints.get(0).toUri()));
    assertEquals(0, Main.commandLine().execute(second.toArray(String[]::new)));
    JsonNode s = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
    // 3,200 records / 32 = 100 steps; the drain at the stop drops the partial batch it held (up to 31 records).
    long finalStep = s.path("final_step").asLong();
    assertTrue(finalStep >= 99 && finalStep <= 100, s.toString());
    // Continued, not restarted: the next version comes 10 steps after the step the first run stopped at (a fresh
    // run publishes at multiples of 10).
    long stoppedVersion = stopped.path("model_versions").asLong() - 1;
    JsonNode next = s.path("versions").get((int) stoppedVersion + 1);
    assertEquals(stoppedVersion + 1, next.path("version").asLong(), s.toString());
    assertEquals(stoppedAt + 10, next.path("step").asLong(), s.toString());
    assertTrue(Files.isDirectory(savepoints.get(0)), "the savepoint restored from is kept");
    assertArrayEquals(new byte[] {4, 5, 6}, Files.readAllBytes(user));
    // The versions of the first run are still listed: the second run continued the directory's run.
    assertEquals(0, s.path("versions").get(0).path("version").asLong());
    assertTrue(Files.exists(out.resolve("models").resolve("manifest.json")));

    // A fresh run (no restore) into the same pml4j directory replaces that run's outputs and nothing else.
    assertEquals(0, Main.commandLine().execute(common));
    assertArrayEquals(new byte[] {4, 5, 6}, Files.readAllBytes(user));
    try (var l = Files.list(out.resolve("savepoints"))) {
      assertEquals(0, l.count(), "the earlier run's savepoint is gone");
    }
    assertEquals(100, new ObjectMapper().readTree(out.resolve("summary.json").toFile()).path("final_step").asLong());
  }

  @Test
  void durations() {
    assertEquals(90, StreamCommand.parseDuration("90"));
    assertEquals(90, StreamCommand.parseDuration("90s"));
    assertEquals(150, StreamCommand.parseDuration("2.5m"));
    assertEquals(120, StreamCommand.parseDuration("PT2M"));
    assertEquals(3600, StreamCommand.parseDuration("1h"));
    assertThrows(IllegalArgumentException.class, () -> StreamCommand.parseDuration("soon"));
    assertThrows(IllegalArgumentException.class, () -> StreamCommand.parseDuration("-3s"));
  }

  @Test
  void unknownDatasetIsAUserError() {
    assertEquals(2, Main.commandLine().execute("stream", "--dataset", "cifar", "--out", tmp.toString()));
  }
}
