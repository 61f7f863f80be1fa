package org.pml4j.cli;

import java.io.PrintWriter;
import java.util.Locale;

/** A one-line progress bar on stderr: steps, loss (smoothed), steps/s and the time left; redrawn at most 10×/s. */
final class ProgressBar {
  private static final int WIDTH = 28;
  private final PrintWriter out;
  private final long total;
  private final boolean enabled;
  private final long start = System.nanoTime();
  private long lastDraw;
  private double ema = Double.NaN;

  ProgressBar(PrintWriter out, long total, boolean enabled) {
    this.out = out;
    this.total = Math.max(total, 1);
    this.enabled = enabled;
  }

  void update(long step, double loss) {
    ema = Double.isNaN(ema) ? loss : 0.95 * ema + 0.05 * loss;
    long now = System.nanoTime();
    if (enabled && (now - lastDraw > 100_000_000L || step == total)) {
      lastDraw = now;
      draw(step, now);
    }
  }

  private void draw(long step, long now) {
    double secs = (now - start) / 1e9;
    double rate = secs > 0 ? step / secs : 0;
    int filled = (int) (WIDTH * Math.min(step, total) / total);
    StringBuilder bar = new StringBuilder("[");
    for (int i = 0; i < WIDTH; i++) {
      bar.append(i < filled ? '=' : i == filled ? '>' : ' ');
    }
    bar.append(']');
    long eta = rate > 0 ? Math.round((total - step) / rate) : 0;
    out.print(String.format(Locale.ROOT, "\rtrain %s %d/%d  loss %.4f  %.1f steps/s  ETA %d:%02d   ", bar, step, total,
        ema, rate, eta / 60, eta % 60));
    out.flush();
  }

  void finish(long step) {
    if (enabled) {
      draw(step, System.nanoTime());
      out.println();
    }
  }
}
