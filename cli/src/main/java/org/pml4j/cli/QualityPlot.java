package org.pml4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Paint;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Rectangle2D;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYTitleAnnotation;
import org.jfree.chart.axis.AxisLocation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.block.BlockBorder;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.DatasetRenderingOrder;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.renderer.xy.XYItemRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.LegendTitle;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.Layer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.chart.util.ShapeUtils;
import org.jfree.data.general.DatasetUtils;
import org.jfree.data.xy.XYDataset;
import org.jfree.data.xy.XYIntervalSeries;
import org.jfree.data.xy.XYIntervalSeriesCollection;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * {@code quality.png} of {@code pml4j stream}, drawn with JFreeChart (headless): three panels over one x axis, the
 * training step of each published model version.
 *
 * <ol>
 *   <li><b>Quality</b>: precision@1 and MAP@R on the held-out stream, a marker at each version the evaluator scored
 *       and nowhere else (with {@code evaluate=latest} it skips versions while it is busy: the line joining two scored
 *       versions is then dashed, and the subtitle lists the scored versions); with the retrieval index, also P@1 of
 *       the index's answers per answering version.</li>
 *   <li><b>Loss</b>: the trainer's mean loss over the steps since the previous version (v0 has none).</li>
 *   <li><b>Throughput</b>: trained samples per wall-clock second between consecutive versions (a bar over each
 *       interval of steps), the run's mean and the trainer's speed inside its steps as horizontal lines; with the
 *       retrieval index, the refresh latency of each indexed version (publication to every shard serving it) on a
 *       second axis.</li>
 * </ol>
 *
 * <p>The input is {@code summary.json} ({@link Input#of}).
 */
final class QualityPlot {
  /** Width of the PNG, pixels. */
  static final int WIDTH = 960;
  /** Height of the PNG, pixels. */
  static final int HEIGHT = 1080;

  private static final Color P1 = new Color(0x1F77B4);
  private static final Color MAP = new Color(0x2CA02C);
  private static final Color SERVED = new Color(0x9467BD);
  private static final Color LOSS = new Color(0xD62728);
  private static final Color RATE = new Color(0x9ECAE1);
  private static final Color REFRESH = new Color(0xFF7F0E);
  private static final Color GRID = new Color(0xDDDDDD);
  private static final Font LABEL = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
  private static final Font TICK = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
  private static final Font LEGEND = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
  /** Versions labelled "vN" at their quality markers, at most (more would overlap). */
  private static final int MAX_VERSION_LABELS = 12;

  private QualityPlot() {}

  /** One published model version: a row of {@code summary.json}'s {@code versions}; NaN where absent. */
  record Version(long version, long step, double publishedAtMs, double loss, double precisionAt1,
      double mapAtR, double samples) {
    boolean scored() {
      return Double.isFinite(precisionAt1) || Double.isFinite(mapAtR);
    }
  }

  /**
   * What the plot shows.
   *
   * @param versions the published versions, in version order
   * @param samplesPerStep samples per train step, to count the samples of a version that has no {@code samples}
   *     (NaN: unknown)
   * @param trainerSamplesPerSec the trainer's speed inside its train steps (NaN: unknown)
   * @param wallSamplesPerSec wall-clock throughput from the first version to the last (NaN: unknown)
   * @param trainerBusyShare share of that wall-clock time spent in train steps (NaN: unknown)
   * @param retrieval the retrieval index's figures; null when the index did not run
   */
  record Input(List<Version> versions, double samplesPerStep, double trainerSamplesPerSec,
      double wallSamplesPerSec, double trainerBusyShare, Retrieval retrieval) {
    /**
     * Reads {@code summary.json}: {@code versions: [{version, step, published_at_ms, loss, precision_at_1,
     * mean_average_precision_at_r, samples?}]}, {@code samples}, {@code final_step}, {@code samples_per_sec},
     * {@code wall_samples_per_sec}, {@code trainer_busy_share}, and {@code retrieval: {refresh_ms: {p50, max},
     * refresh_ms_by_version?: {"V": ms}, precision_at_1: {"V": p}}}. A version row without {@code samples} counts
     * {@code step * samples / final_step} (the batch size: every step trains one full batch).
     */
    static Input of(JsonNode summary) {
      List<Version> versions = new ArrayList<>();
      for (JsonNode v : summary.path("versions")) {
        if (!v.path("version").canConvertToLong()) {
          throw new IllegalArgumentException("summary: a versions row without a numeric 'version': " + v);
        }
        versions.add(new Version(v.path("version").asLong(), v.path("step").asLong(), num(v.path("published_at_ms")),
            num(v.path("loss")), num(v.path("precision_at_1")), num(v.path("mean_average_precision_at_r")),
            num(v.path("samples"))));
      }
      versions.sort((a, b) -> Long.compare(a.version(), b.version()));
      double samples = num(summary.path("samples"));
      double finalStep = num(summary.path("final_step"));
      double perStep = samples > 0 && finalStep > 0 ? samples / finalStep : Double.NaN;
      JsonNode r = summary.path("retrieval");
      Retrieval retrieval = r.isObject() ? new Retrieval(byVersion(r.path("refresh_ms_by_version")),
          num(r.path("refresh_ms").path("p50")), num(r.path("refresh_ms").path("max")),
          byVersion(r.path("precision_at_1"))) : null;
      return new Input(List.copyOf(versions), perStep, num(summary.path("samples_per_sec")),
          num(summary.path("wall_samples_per_sec")), num(summary.path("trainer_busy_share")), retrieval);
    }
  }

  /**
   * The retrieval index's figures.
   *
   * @param refreshMsByVersion per indexed version: ms from its publication to every shard serving it
   * @param refreshP50Ms median refresh (NaN: none)
   * @param refreshMaxMs largest refresh (NaN: none)
   * @param answersPrecisionAt1 per answering version: P@1 of the index's answers
   */
  record Retrieval(SortedMap<Long, Double> refreshMsByVersion, double refreshP50Ms, double refreshMaxMs,
      SortedMap<Long, Double> answersPrecisionAt1) {}

  /**
   * The plotted data: x is always the training step of a version.
   *
   * @param quality precision@1 and MAP@R of the scored versions (and P@1 of retrieval answers when present)
   * @param qualityVersions the version of each point of {@code quality}'s series 1 (MAP@R), in order
   * @param loss mean loss per version with a loss
   * @param throughput samples per wall-clock second, one interval of steps per pair of consecutive versions
   * @param refresh refresh latency per indexed version, ms (empty without the index or its per-version figures)
   */
  record Datasets(XYSeriesCollection quality, List<Long> qualityVersions, XYSeriesCollection loss,
      XYIntervalSeriesCollection throughput, XYSeriesCollection refresh) {}

  /** Draws the plot of a {@code summary.json} tree into {@code png} (a temporary file, then renamed). */
  static void write(JsonNode summary, String title, Path png) throws IOException {
    System.setProperty("java.awt.headless", "true");
    JFreeChart chart = chart(Input.of(summary), title);
    Path tmp = png.resolveSibling("." + png.getFileName() + ".tmp");
    ChartUtils.saveChartAsPNG(tmp.toFile(), chart, WIDTH, HEIGHT);
    Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The series of the three panels. */
  static Datasets datasets(Input in) {
    Map<Long, Long> stepOf = new TreeMap<>();
    for (Version v : in.versions()) {
      stepOf.put(v.version(), v.step());
    }
    XYSeries p1 = new XYSeries("precision@1, held-out", false);
    XYSeries map = new XYSeries("MAP@R, held-out", false);
    XYSeries loss = new XYSeries("mean loss of the steps since the previous version", false);
    List<Long> scored = new ArrayList<>();
    for (Version v : in.versions()) {
      if (Double.isFinite(v.precisionAt1())) {
        p1.add(v.step(), v.precisionAt1());
      }
      if (Double.isFinite(v.mapAtR())) {
        map.add(v.step(), v.mapAtR());
        scored.add(v.version());
      }
      if (Double.isFinite(v.loss())) {
        loss.add(v.step(), v.loss());
      }
    }
    XYSeriesCollection quality = new XYSeriesCollection(p1);
    quality.addSeries(map);
    XYSeriesCollection refresh = new XYSeriesCollection();
    if (in.retrieval() != null) {
      XYSeries served = new XYSeries("P@1 of the retrieval index's answers", false);
      in.retrieval().answersPrecisionAt1().forEach((version, p) -> {
        if (stepOf.containsKey(version)) {
          served.add(stepOf.get(version).doubleValue(), p);
        }
      });
      if (!served.isEmpty()) {
        quality.addSeries(served);
      }
      XYSeries ms = new XYSeries("index refresh of a version, ms (right axis)", false);
      in.retrieval().refreshMsByVersion().forEach((version, t) -> {
        if (stepOf.containsKey(version)) {
          ms.add(stepOf.get(version).doubleValue(), t);
        }
      });
      if (!ms.isEmpty()) {
        refresh.addSeries(ms);
      }
    }
    XYIntervalSeries rate = new XYIntervalSeries("trained samples per wall-clock second, between versions");
    Version prev = null;
    for (Version v : in.versions()) {
      if (prev != null) {
        double dt = (v.publishedAtMs() - prev.publishedAtMs()) / 1000.0;
        double ds = samples(v, in) - samples(prev, in);
        if (dt > 0 && ds >= 0 && v.step() > prev.step()) {
          double r = ds / dt;
          rate.add(v.step(), prev.step(), v.step(), r, r, r);
        }
      }
      prev = v;
    }
    XYIntervalSeriesCollection throughput = new XYIntervalSeriesCollection();
    throughput.addSeries(rate);
    return new Datasets(quality, List.copyOf(scored), new XYSeriesCollection(loss), throughput, refresh);
  }

  private static double samples(Version v, Input in) {
    return Double.isFinite(v.samples()) ? v.samples() : v.step() * in.samplesPerStep();
  }

  /** The figure: three panels over a shared x axis (training step). */
  static JFreeChart chart(Input in, String title) {
    Datasets d = datasets(in);
    NumberAxis step = new NumberAxis("training step (of each published model version)");
    step.setLabelFont(LABEL);
    step.setTickLabelFont(TICK);
    step.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
    step.setAutoRangeStickyZero(false); // else no margin left of step 0, where v0's label goes
    step.setLowerMargin(0.03);
    step.setUpperMargin(0.02);
    CombinedDomainXYPlot plot = new CombinedDomainXYPlot(step);
    plot.setGap(14);
    plot.add(qualityPanel(d, in), 4);
    plot.add(lossPanel(d), 3);
    plot.add(throughputPanel(d, in), 3);
    JFreeChart chart = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 18), plot, false);
    chart.setBackgroundPaint(Color.WHITE);
    TextTitle sub = new TextTitle(subtitle(in), new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    sub.setPadding(new RectangleInsets(2, 10, 6, 10));
    chart.addSubtitle(sub);
    return chart;
  }

  /** The line under the title: which versions were scored, the run's wall-clock span. */
  static String subtitle(Input in) {
    int n = in.versions().size();
    List<Long> scored = in.versions().stream().filter(Version::scored).map(Version::version).toList();
    StringBuilder s = new StringBuilder();
    if (scored.isEmpty()) {
      s.append(n).append(n == 1 ? " model version" : " model versions").append(", none scored on the held-out stream");
    } else if (scored.size() == n) {
      s.append("all ").append(n).append(" model versions scored on the held-out stream");
    } else {
      s.append("scored ").append(scored.size()).append(" of ").append(n).append(" versions (")
          .append(versionList(scored)).append("; the evaluator skipped the others while busy; dashed lines only join "
          + "scored versions)");
    }
    if (n >= 2) {
      Version first = in.versions().get(0);
      Version last = in.versions().get(n - 1);
      double seconds = (last.publishedAtMs() - first.publishedAtMs()) / 1000.0;
      if (Double.isFinite(seconds)) {
        s.append(String.format(Locale.ROOT, "; v%d to v%d in %.1f s", first.version(), last.version(), seconds));
      }
    }
    return s.toString();
  }

  private static String versionList(List<Long> vs) {
    if (vs.size() <= 8) {
      return vs.stream().map(v -> "v" + v).collect(Collectors.joining(", "));
    }
    return vs.subList(0, 4).stream().map(v -> "v" + v).collect(Collectors.joining(", ")) + ", ... , v"
        + vs.get(vs.size() - 1);
  }

  private static XYPlot qualityPanel(Datasets d, Input in) {
    boolean complete = in.versions().stream().allMatch(Version::scored);
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
    Paint[] colors = {P1, MAP, SERVED};
    Shape[] shapes = {circle(10), new Rectangle2D.Double(-4.5, -4.5, 9, 9), diamond(6)};
    for (int i = 0; i < d.quality().getSeriesCount(); i++) {
      r.setSeriesPaint(i, colors[i]);
      r.setSeriesShape(i, shapes[i]);
      // A line joins measured points only; between scored versions that are not adjacent it is dashed.
      boolean solid = i < 2 ? complete : d.quality().getSeries(i).getItemCount() == in.versions().size();
      r.setSeriesStroke(i, solid ? new BasicStroke(2.2f)
          : new BasicStroke(1.3f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 5f}, 0f));
    }
    if (d.qualityVersions().size() <= MAX_VERSION_LABELS) {
      List<Long> vs = d.qualityVersions();
      // Below the MAP@R markers, the lowest series (MAP@R <= P@1 in practice; P@1 of answers is near P@1).
      r.setSeriesItemLabelGenerator(1, (ds, series, item) -> "v" + vs.get(item));
      r.setSeriesItemLabelsVisible(1, true);
      r.setSeriesItemLabelFont(1, TICK);
      r.setSeriesPositiveItemLabelPosition(1, new ItemLabelPosition(ItemLabelAnchor.OUTSIDE6,
          TextAnchor.TOP_CENTER));
    }
    XYPlot p = panel(d.quality(), r, "retrieval quality");
    ((NumberAxis) p.getRangeAxis()).setUpperMargin(0.35); // room for the legend above the data
    ((NumberAxis) p.getRangeAxis()).setLowerMargin(0.12); // room for the version labels
    p.setNoDataMessage("no version was scored on the held-out stream");
    legend(p);
    return p;
  }

  private static XYPlot lossPanel(Datasets d) {
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
    r.setSeriesPaint(0, LOSS);
    r.setSeriesStroke(0, new BasicStroke(2f));
    r.setSeriesShape(0, circle(6));
    XYPlot p = panel(d.loss(), r, "training loss");
    ((NumberAxis) p.getRangeAxis()).setUpperMargin(0.3);
    p.setNoDataMessage("no trained version yet");
    legend(p);
    return p;
  }

  private static XYPlot throughputPanel(Datasets d, Input in) {
    XYBarRenderer bars = new XYBarRenderer();
    bars.setBarPainter(new StandardXYBarPainter());
    bars.setShadowVisible(false);
    bars.setDrawBarOutline(true);
    bars.setSeriesPaint(0, RATE);
    bars.setSeriesOutlinePaint(0, new Color(0x3182BD));
    bars.setSeriesOutlineStroke(0, new BasicStroke(0.8f));
    XYPlot p = panel(d.throughput(), bars, "samples/s (wall clock)");
    NumberAxis y = (NumberAxis) p.getRangeAxis();
    y.setUpperMargin(0.45);
    double top = 0;
    if (Double.isFinite(in.wallSamplesPerSec())) {
      String busy = Double.isFinite(in.trainerBusyShare())
          ? String.format(Locale.ROOT, ", trainer busy %.0f %% of it", 100 * in.trainerBusyShare()) : "";
      p.addRangeMarker(0, line(in.wallSamplesPerSec(), new Color(0x08519C), String.format(Locale.ROOT,
          "wall-clock mean %,.0f samples/s%s", in.wallSamplesPerSec(), busy), TextAnchor.BOTTOM_LEFT),
          Layer.FOREGROUND);
      top = in.wallSamplesPerSec();
    }
    if (Double.isFinite(in.trainerSamplesPerSec()) && in.trainerSamplesPerSec() > 0) {
      p.addRangeMarker(0, line(in.trainerSamplesPerSec(), Color.DARK_GRAY, String.format(Locale.ROOT,
          "mean inside train steps %,.0f samples/s", in.trainerSamplesPerSec()), TextAnchor.TOP_LEFT),
          Layer.FOREGROUND);
      top = Math.max(top, in.trainerSamplesPerSec());
    }
    Number barsMax = DatasetUtils.findMaximumRangeValue(d.throughput());
    double barsTop = barsMax == null ? 0 : barsMax.doubleValue();
    y.setAutoRangeIncludesZero(true);
    if (top > barsTop) {
      y.setRange(0, top * 1.45);
    }
    Retrieval rt = in.retrieval();
    if (rt != null) {
      NumberAxis ms = axis("index refresh (ms)");
      ms.setLabelPaint(REFRESH);
      ms.setTickLabelPaint(REFRESH);
      ms.setAutoRangeIncludesZero(true);
      ms.setUpperMargin(0.45);
      p.setRangeAxis(1, ms);
      p.setRangeAxisLocation(1, AxisLocation.BOTTOM_OR_RIGHT);
      p.setDataset(1, d.refresh());
      p.mapDatasetToRangeAxis(1, 1);
      // Markers only: the versions between indexed ones were not indexed (retrieval.min_refresh_interval).
      XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(false, true);
      r.setSeriesPaint(0, REFRESH);
      r.setSeriesShape(0, diamond(7));
      r.setSeriesOutlinePaint(0, Color.BLACK);
      r.setUseOutlinePaint(true);
      r.setDrawOutlines(true);
      p.setRenderer(1, r);
      p.setDatasetRenderingOrder(DatasetRenderingOrder.FORWARD);
      if (d.refresh().getSeriesCount() == 0 && Double.isFinite(rt.refreshMaxMs())) {
        // Only the percentiles are known: draw them as lines on the refresh axis.
        ms.setRange(0, rt.refreshMaxMs() * 1.45);
        p.addRangeMarker(1, line(rt.refreshP50Ms(), REFRESH, String.format(Locale.ROOT,
            "index refresh p50 %,.0f ms", rt.refreshP50Ms()), TextAnchor.BOTTOM_RIGHT), Layer.FOREGROUND);
        p.addRangeMarker(1, line(rt.refreshMaxMs(), REFRESH, String.format(Locale.ROOT,
            "index refresh max %,.0f ms", rt.refreshMaxMs()), TextAnchor.BOTTOM_RIGHT), Layer.FOREGROUND);
      } else if (d.refresh().getSeriesCount() == 0) {
        ms.setRange(0, 1000);
      }
    }
    p.setNoDataMessage("one version: no interval to measure");
    legend(p);
    return p;
  }

  private static ValueMarker line(double y, Paint paint, String label, TextAnchor textAnchor) {
    ValueMarker m = new ValueMarker(y, paint, new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER,
        10f, new float[] {3f, 3f}, 0f));
    m.setLabel(label);
    m.setLabelFont(TICK);
    m.setLabelPaint(paint);
    boolean left = textAnchor == TextAnchor.BOTTOM_LEFT || textAnchor == TextAnchor.TOP_LEFT;
    boolean above = textAnchor == TextAnchor.BOTTOM_LEFT || textAnchor == TextAnchor.BOTTOM_RIGHT;
    m.setLabelAnchor(left ? (above ? RectangleAnchor.TOP_LEFT : RectangleAnchor.BOTTOM_LEFT)
        : (above ? RectangleAnchor.TOP_RIGHT : RectangleAnchor.BOTTOM_RIGHT));
    m.setLabelTextAnchor(textAnchor);
    m.setLabelOffset(new RectangleInsets(2, 6, 2, 6));
    m.setLabelBackgroundColor(new Color(255, 255, 255, 210));
    return m;
  }

  private static XYPlot panel(XYDataset data, XYItemRenderer r, String yLabel) {
    XYPlot p = new XYPlot(data, null, axis(yLabel), r);
    p.setBackgroundPaint(Color.WHITE);
    p.setDomainGridlinePaint(GRID);
    p.setRangeGridlinePaint(GRID);
    p.setDomainGridlineStroke(new BasicStroke(1f));
    p.setRangeGridlineStroke(new BasicStroke(1f));
    p.setOutlinePaint(Color.GRAY);
    p.setNoDataMessageFont(LABEL);
    return p;
  }

  private static NumberAxis axis(String label) {
    NumberAxis a = new NumberAxis(label);
    a.setLabelFont(LABEL);
    a.setTickLabelFont(TICK);
    a.setAutoRangeIncludesZero(false);
    return a;
  }

  /** The panel's legend, inside its top edge (each panel's range axis leaves room above the data). */
  private static void legend(XYPlot p) {
    LegendTitle l = new LegendTitle(p);
    l.setItemFont(LEGEND);
    l.setBackgroundPaint(new Color(255, 255, 255, 225));
    l.setFrame(new BlockBorder(Color.LIGHT_GRAY));
    l.setPadding(new RectangleInsets(2, 4, 2, 4));
    p.addAnnotation(new XYTitleAnnotation(0.5, 0.985, l, RectangleAnchor.TOP));
  }

  private static Shape circle(double size) {
    return new Ellipse2D.Double(-size / 2, -size / 2, size, size);
  }

  private static Shape diamond(double half) {
    return ShapeUtils.createDiamond((float) half);
  }

  private static double num(JsonNode n) {
    return n.isNumber() && Double.isFinite(n.asDouble()) ? n.asDouble() : Double.NaN;
  }

  private static SortedMap<Long, Double> byVersion(JsonNode obj) {
    SortedMap<Long, Double> m = new TreeMap<>();
    for (Map.Entry<String, JsonNode> e : obj.properties()) {
      double v = num(e.getValue());
      if (Double.isFinite(v)) {
        try {
          m.put(Long.parseLong(e.getKey()), v);
        } catch (NumberFormatException ex) {
          throw new IllegalArgumentException("summary: retrieval per-version key '" + e.getKey()
              + "' is not a version number", ex);
        }
      }
    }
    return Collections.unmodifiableSortedMap(m);
  }
}
