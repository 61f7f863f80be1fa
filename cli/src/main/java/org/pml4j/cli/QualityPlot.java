package org.pml4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The PNG of {@code pml4j stream}: training loss (top panel) and retrieval quality, precision@1 and MAP@R on the
 * held-out stream (bottom panel), per published model version; drawn with java.awt in headless mode.
 */
final class QualityPlot {
  private static final int W = 960;
  private static final int H = 720;
  private static final int LEFT = 90;
  private static final int RIGHT = 30;
  private static final Color LOSS = new Color(0xD62728);
  private static final Color P1 = new Color(0x1F77B4);
  private static final Color MAP = new Color(0x2CA02C);

  private QualityPlot() {}

  /** One series: name, colour, points (x = model version); dashed: the line joins points that are not adjacent. */
  record Series(String name, Color color, List<double[]> points, boolean dashed) {
    Series(String name, Color color, List<double[]> points) {
      this(name, color, points, false);
    }
  }

  /**
   * Draws the plot of a {@code summary.json} tree ({@code versions: [{version, step, loss, precision_at_1,
   * mean_average_precision_at_r}]}) into {@code png} (written to a temporary file, then renamed).
   */
  static void write(JsonNode summary, String title, Path png) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<double[]> loss = new ArrayList<>();
    List<double[]> p1 = new ArrayList<>();
    List<double[]> map = new ArrayList<>();
    for (JsonNode v : summary.path("versions")) {
      double x = v.path("version").asDouble();
      add(loss, x, v.path("loss"), v.path("step").asLong() > 0);
      add(p1, x, v.path("precision_at_1"), true);
      add(map, x, v.path("mean_average_precision_at_r"), true);
    }
    double xMax = Math.max(1, summary.path("versions").size() - 1);
    for (JsonNode v : summary.path("versions")) {
      xMax = Math.max(xMax, v.path("version").asDouble());
    }
    BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, W, H);
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
      centered(g, title, W / 2, 30);
      int panelH = (H - 60 - 70 - 50) / 2;
      int top1 = 60;
      int top2 = top1 + panelH + 50;
      panel(g, top1, panelH, xMax, "training loss", List.of(new Series("mean loss of the steps since the previous version", LOSS,
          loss)), false);
      // Versions the evaluator skipped (evaluate=latest) have no point: the line between two scored versions is
      // then dashed and the legend says so, so that it does not read as a measured curve.
      int versions = summary.path("versions").size();
      String scored = p1.size() < versions ? " (" + p1.size() + " of " + versions + " versions scored; dashed: not "
          + "measured between)" : "";
      boolean sparse = !scored.isEmpty();
      panel(g, top2, panelH, xMax, "held-out retrieval", List.of(new Series("precision@1" + scored, P1, p1, sparse),
          new Series("MAP@R", MAP, map, sparse)), true);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 15));
      g.setColor(Color.BLACK);
      centered(g, "model version", LEFT + (W - LEFT - RIGHT) / 2, H - 25);
    } finally {
      g.dispose();
    }
    Path tmp = png.resolveSibling("." + png.getFileName() + ".tmp");
    if (!ImageIO.write(img, "png", tmp.toFile())) {
      throw new IOException("no PNG writer in this JVM");
    }
    Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void add(List<double[]> s, double x, JsonNode y, boolean keep) {
    if (keep && y.isNumber() && Double.isFinite(y.asDouble())) {
      s.add(new double[] {x, y.asDouble()});
    }
  }

  private static void panel(Graphics2D g, int top, int h, double xMax, String yLabel, List<Series> series,
      boolean legendBottomRight) {
    int left = LEFT;
    int w = W - LEFT - RIGHT;
    double yMin = Double.POSITIVE_INFINITY;
    double yMax = Double.NEGATIVE_INFINITY;
    for (Series s : series) {
      for (double[] p : s.points()) {
        yMin = Math.min(yMin, p[1]);
        yMax = Math.max(yMax, p[1]);
      }
    }
    if (!Double.isFinite(yMin)) {
      yMin = 0;
      yMax = 1;
    }
    double pad = Math.max((yMax - yMin) * 0.1, 1e-3);
    double[] ticks = niceTicks(yMin - pad, yMax + pad, 6);
    double lo = ticks[0];
    double hi = ticks[ticks.length - 1];
    // frame and grid
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    g.setStroke(new BasicStroke(1f));
    FontMetrics fm = g.getFontMetrics();
    for (double t : ticks) {
      int y = top + h - (int) Math.round((t - lo) / (hi - lo) * h);
      g.setColor(new Color(0xE6E6E6));
      g.drawLine(left, y, left + w, y);
      g.setColor(Color.BLACK);
      g.drawLine(left - 5, y, left, y);
      String label = fmt(t, hi - lo);
      g.drawString(label, left - 8 - fm.stringWidth(label), y + fm.getAscent() / 2 - 1);
    }
    int xStep = Math.max(1, (int) Math.ceil(xMax / 12));
    for (int v = 0; v <= xMax; v += xStep) {
      int x = left + (int) Math.round(v / xMax * w);
      g.setColor(new Color(0xE6E6E6));
      g.drawLine(x, top, x, top + h);
      g.setColor(Color.BLACK);
      g.drawLine(x, top + h, x, top + h + 5);
      centered(g, Integer.toString(v), x, top + h + 8 + fm.getAscent());
    }
    g.setColor(Color.BLACK);
    g.setStroke(new BasicStroke(1.2f));
    g.drawRect(left, top, w, h);
    // y label, rotated
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 15));
    AffineTransform saved = g.getTransform();
    g.translate(22, top + h / 2.0);
    g.rotate(-Math.PI / 2);
    centered(g, yLabel, 0, 0);
    g.setTransform(saved);
    // series
    for (Series s : series) {
      g.setColor(s.color());
      g.setStroke(new BasicStroke(2.5f));
      int[] px = new int[s.points().size()];
      int[] py = new int[px.length];
      for (int i = 0; i < px.length; i++) {
        double[] p = s.points().get(i);
        px[i] = left + (int) Math.round(p[0] / xMax * w);
        py[i] = top + h - (int) Math.round((p[1] - lo) / (hi - lo) * h);
      }
      if (s.dashed()) {
        g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {7, 6}, 0));
      }
      g.drawPolyline(px, py, px.length);
      for (int i = 0; i < px.length; i++) {
        g.fillOval(px[i] - 4, py[i] - 4, 8, 8);
      }
    }
    // legend
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
    fm = g.getFontMetrics();
    int lw = 0;
    for (Series s : series) {
      lw = Math.max(lw, fm.stringWidth(s.name()));
    }
    int boxW = lw + 50;
    int boxH = series.size() * 22 + 10;
    int bx = left + w - boxW - 10;
    int by = legendBottomRight ? top + h - boxH - 10 : top + 10;
    g.setColor(new Color(255, 255, 255, 230));
    g.fillRect(bx, by, boxW, boxH);
    g.setColor(Color.GRAY);
    g.setStroke(new BasicStroke(1f));
    g.drawRect(bx, by, boxW, boxH);
    for (int i = 0; i < series.size(); i++) {
      Series s = series.get(i);
      int y = by + 16 + i * 22;
      g.setColor(s.color());
      g.setStroke(new BasicStroke(2.5f));
      g.drawLine(bx + 8, y - 4, bx + 32, y - 4);
      g.fillOval(bx + 16, y - 8, 8, 8);
      g.setColor(Color.BLACK);
      g.drawString(s.name(), bx + 40, y);
    }
  }

  private static void centered(Graphics2D g, String s, int x, int baseline) {
    g.drawString(s, x - g.getFontMetrics().stringWidth(s) / 2, baseline);
  }

  private static String fmt(double v, double range) {
    int decimals = range >= 5 ? 1 : range >= 0.5 ? 2 : range >= 0.05 ? 3 : 4;
    return String.format(Locale.ROOT, "%." + decimals + "f", v);
  }

  /** Round tick values covering [lo, hi], about {@code n} of them. */
  static double[] niceTicks(double lo, double hi, int n) {
    double raw = (hi - lo) / Math.max(1, n - 1);
    double mag = Math.pow(10, Math.floor(Math.log10(raw)));
    double norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    double start = Math.floor(lo / step) * step;
    double end = Math.ceil(hi / step) * step;
    int count = (int) Math.round((end - start) / step) + 1;
    double[] t = new double[count];
    for (int i = 0; i < count; i++) {
      t[i] = start + i * step;
    }
    return t;
  }
}
