package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
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
    assertEquals(0, s.path("rejected").asLong());
    assertTrue(s.path("refresh_latency_ms").has("p50") && s.path("refresh_latency_ms").has("max"));
    assertTrue(Files.exists(out.resolve("models").resolve("manifest.json")));
    BufferedImage png = ImageIO.read(out.resolve("quality.png").toFile());
    assertEquals(960, png.getWidth());
    assertEquals(720, png.getHeight());
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
