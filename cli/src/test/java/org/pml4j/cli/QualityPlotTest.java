package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.jfree.data.xy.XYDataset;
import org.jfree.data.xy.XYIntervalSeriesCollection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link QualityPlot}: the series built from a summary.json of a Fashion-MNIST run with the retrieval index (10
 * versions, 3 scored by the evaluator, 3 indexed), the PNG it writes, and the small cases (one version, no evaluation,
 * no retrieval, no versions).
 */
class QualityPlotTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  private static ObjectNode summary() throws Exception {
    try (InputStream in = QualityPlotTest.class.getResourceAsStream("/quality-summary.json")) {
      return (ObjectNode) JSON.readTree(in);
    }
  }

  private static List<double[]> points(XYDataset d, int series) {
    List<double[]> p = new java.util.ArrayList<>();
    for (int i = 0; i < d.getItemCount(series); i++) {
      p.add(new double[] {d.getXValue(series, i), d.getYValue(series, i)});
    }
    return p;
  }

  private static void assertPoints(double[][] expected, List<double[]> actual, String what) {
    assertEquals(expected.length, actual.size(), what + ": number of points");
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i][0], actual.get(i)[0], 1e-9, what + " x of point " + i);
      assertEquals(expected[i][1], actual.get(i)[1], 1e-9, what + " y of point " + i);
    }
  }

  @Test
  void scoredVersionsOnlyLossPerVersionThroughputIntervalsAndRefreshPerIndexedVersion() throws Exception {
    QualityPlot.Input in = QualityPlot.Input.of(summary());
    QualityPlot.Datasets d = QualityPlot.datasets(in);
    // Quality: markers at the 3 scored versions (v0, v4, v9 at steps 0, 200, 437), none at the 7 skipped ones.
    assertEquals(3, d.quality().getSeriesCount());
    assertPoints(new double[][] {{0, 0.7777}, {200, 0.8122}, {437, 0.8430}}, points(d.quality(), 0), "P@1");
    assertPoints(new double[][] {{0, 0.2818}, {200, 0.4907}, {437, 0.6283}}, points(d.quality(), 1), "MAP@R");
    assertEquals(List.of(0L, 4L, 9L), d.qualityVersions());
    assertEquals("scored 3 of 10 versions (v0, v4, v9; the evaluator skipped the others while busy; dashed lines "
        + "only join scored versions); v0 to v9 in 3.0 s", QualityPlot.subtitle(in));
    // P@1 of the index's answers for the versions it answered with (v0, v5, v9).
    assertPoints(new double[][] {{0, 0.856}, {250, 0.857}, {437, 0.858}}, points(d.quality(), 2), "answers P@1");
    // Loss: every trained version (v0 has none).
    List<double[]> loss = points(d.loss(), 0);
    assertEquals(9, loss.size());
    assertPoints(new double[][] {{50, 0.9458}}, loss.subList(0, 1), "first loss");
    assertPoints(new double[][] {{437, 0.7101}}, loss.subList(8, 9), "last loss");
    // Throughput: one interval per pair of versions; samples = 64 per step (summary samples / final_step).
    XYIntervalSeriesCollection t = d.throughput();
    assertEquals(9, t.getItemCount(0));
    assertEquals(0, t.getStartXValue(0, 0), 0);
    assertEquals(50, t.getEndXValue(0, 0), 0);
    assertEquals(50 * 64 / 0.900, t.getYValue(0, 0), 1e-6); // v0 -> v1: 900 ms
    assertEquals(400, t.getStartXValue(0, 8), 0);
    assertEquals(437, t.getEndXValue(0, 8), 0);
    assertEquals(37 * 64 / 0.158, t.getYValue(0, 8), 1e-6); // v8 -> v9: 158 ms
    // Refresh: the three indexed versions (the rate limit skipped the others).
    assertPoints(new double[][] {{0, 380}, {250, 536}, {437, 1067}}, points(d.refresh(), 0), "refresh ms");
  }

  @Test
  void writesAReadablePngOfTheExpectedSize() throws Exception {
    Path png = tmp.resolve("quality.png");
    QualityPlot.write(summary(), "pml4j stream: fashion-mnist (10 model versions)", png);
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(QualityPlot.WIDTH, img.getWidth());
    assertEquals(QualityPlot.HEIGHT, img.getHeight());
    assertFalse(Files.exists(tmp.resolve(".quality.png.tmp")));
  }

  @Test
  void perVersionSampleCountsWinOverStepTimesBatch() throws Exception {
    ObjectNode s = summary();
    ArrayNode vs = (ArrayNode) s.get("versions");
    ((ObjectNode) vs.get(0)).put("samples", 0);
    ((ObjectNode) vs.get(1)).put("samples", 3000); // a partial batch: not 50 * 64
    QualityPlot.Datasets d = QualityPlot.datasets(QualityPlot.Input.of(s));
    assertEquals(3000 / 0.900, d.throughput().getYValue(0, 0), 1e-6);
  }

  @Test
  void oneVersionNoEvaluationNoRetrievalAndNoVersionsRender() throws Exception {
    ObjectNode one = summary();
    one.remove("retrieval");
    ArrayNode vs = (ArrayNode) one.get("versions");
    while (vs.size() > 1) {
      vs.remove(vs.size() - 1);
    }
    ((ObjectNode) vs.get(0)).remove(List.of("precision_at_1", "mean_average_precision_at_r", "evaluated_at_ms"));
    one.putNull("wall_samples_per_sec");
    one.putNull("trainer_busy_share");
    QualityPlot.Datasets d = QualityPlot.datasets(QualityPlot.Input.of(one));
    assertEquals(0, d.quality().getItemCount(0));
    assertEquals(0, d.loss().getItemCount(0));
    assertEquals(0, d.throughput().getItemCount(0));
    assertEquals(0, d.refresh().getSeriesCount());
    render(one, "one");

    ObjectNode noEval = summary();
    noEval.remove("retrieval");
    for (JsonNode v : noEval.get("versions")) {
      ((ObjectNode) v).remove(List.of("precision_at_1", "mean_average_precision_at_r", "evaluated_at_ms"));
    }
    d = QualityPlot.datasets(QualityPlot.Input.of(noEval));
    assertEquals(2, d.quality().getSeriesCount(), "P@1 and MAP@R, both empty; no answers series");
    assertEquals(0, d.quality().getItemCount(0));
    assertEquals(9, d.loss().getItemCount(0));
    render(noEval, "no-eval");

    ObjectNode none = JSON.createObjectNode();
    none.putArray("versions");
    render(none, "none");
  }

  @Test
  void aRetrievalSummaryWithPercentilesOnlyRendersWithoutPerVersionRefresh() throws Exception {
    ObjectNode s = summary();
    ((ObjectNode) s.get("retrieval")).remove("refresh_ms_by_version");
    assertEquals(0, QualityPlot.datasets(QualityPlot.Input.of(s)).refresh().getSeriesCount());
    render(s, "percentiles");
  }

  @Test
  void aVersionRowWithoutVersionIsRejected() throws Exception {
    ObjectNode s = summary();
    ((ObjectNode) s.get("versions").get(3)).remove("version");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QualityPlot.Input.of(s));
    assertTrue(e.getMessage().contains("without a numeric 'version'"), e.getMessage());
  }

  private void render(JsonNode s, String name) throws Exception {
    Path png = tmp.resolve(name + ".png");
    QualityPlot.write(s, "pml4j stream: " + name, png);
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(QualityPlot.WIDTH, img.getWidth(), name);
    assertEquals(QualityPlot.HEIGHT, img.getHeight(), name);
  }
}
