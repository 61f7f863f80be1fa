package org.pml4j.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Training progress on stderr: steps, the running loss (an exponential moving average over the last ~20 steps, so it
 * differs from the final step's loss that {@code train} prints at the end), steps/s and the time left.
 *
 * <p>On a terminal it is a one-line bar redrawn with {@code \r} at most 10×/s. When there is no terminal
 * ({@link System#console()} is null: output redirected to a file or a pipe, as in CI logs) it prints a plain line at
 * every 10 % of the steps instead, never a {@code \r}.
 */
final class ProgressBar {
  private static final int WIDTH = 28;
  private static final int PLAIN_LINES = 10;
  private final PrintWriter out;
  private final long total;
  private final boolean enabled;
  private final boolean terminal;
  private final long start = System.nanoTime();
  private long lastDraw;
  private long nextPlainStep;
  private double ema = Double.NaN;

  /** A bar on a terminal, plain lines otherwise (see the class comment). */
  ProgressBar(PrintWriter out, long total, boolean enabled) {
    this(out, total, enabled, System.console() != null);
  }

  ProgressBar(PrintWriter out, long total, boolean enabled, boolean terminal) {
    this.out = out;
    this.total = Math.max(total, 1);
    this.enabled = enabled;
    this.terminal = terminal;
    this.nextPlainStep = Math.max(1, this.total / PLAIN_LINES);
  }

  void update(long step, double loss) {
    ema = Double.isNaN(ema) ? loss : 0.95 * ema + 0.05 * loss;
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (terminal) {
      if (now - lastDraw > 100_000_000L || step == total) {
        lastDraw = now;
        draw(step, now);
      }
    } else if (step >= nextPlainStep && step < total) {
      nextPlainStep = Math.min(total, step + Math.max(1, total / PLAIN_LINES));
      out.println(line(step, now));
      out.flush();
    }
  }

  private String line(long step, long now) {
    double secs = (now - start) / 1e9;
    double rate = secs > 0 ? step / secs : 0;
    long eta = rate > 0 ? Math.round((total - step) / rate) : 0;
    return String.format(Locale.ROOT, "train %d/%d  loss %.4f (moving average)  %.1f steps/s  ETA %d:%02d", step,
        total, ema, rate, eta / 60, eta % 60);
  }

  private void draw(long step, long now) {
    int filled = (int) (WIDTH * Math.min(step, total) / total);
    StringBuilder bar = new StringBuilder("[");
    for (int i = 0; i < WIDTH; i++) {
      bar.append(i < filled ? '=' : i == filled ? '>' : ' ');
    }
    bar.append(']');
    out.print("\r" + line(step, now).replaceFirst("^train ", "train " + bar + " ") + "   ");
    out.flush();
  }

  void finish(long step) {
    if (!enabled) {
      return;
    }
    if (terminal) {
      draw(step, System.nanoTime());
      out.println();
    } else {
      out.println(line(step, System.nanoTime()));
    }
    out.flush();
  }

  /** A line about work after training (evaluation), so that the wait is not silent. */
  void note(String what) {
    if (enabled) {
      out.println(what);
      out.flush();
    }
  }
}
