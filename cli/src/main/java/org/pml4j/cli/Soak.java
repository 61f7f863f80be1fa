package org.pml4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.losses.MetricLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * The loop behind {@code pml4j soak}: miner + loss + backward steps on fresh random batches, each in its own
 * {@link Scope}, sampling the process's resident set size — the check that per-step scopes keep native memory flat.
 * (A tool, not library API: it lives in the CLI.)
 */
final class Soak {
  /** An RSS sample. */
  record Sample(long step, long rssKb) {}

  /**
   * The RSS summary over the window from {@code fromStep} to the end: its first sample, the last, the smallest, the
   * largest, and the rise: the largest climb of a sample over the lowest sample before it ({@code rss[j] /
   * min(rss[0..j]) - 1}). A leak climbs; memory handed back to the OS (glibc trimming the JIT compiler's freed arenas:
   * RSS once fell by 50 MiB at step 5,500 of a flat run) is a fall, which the spread {@code max / min - 1} counted as
   * unflat and the rise does not.
   */
  record Report(long fromStep, long firstKb, long lastKb, long minKb, long maxKb, int samples, double rise) {
    double spread() {
      return minKb > 0 ? (double) maxKb / minKb - 1 : 0;
    }

    double growth() {
      return firstKb > 0 ? (double) lastKb / firstKb - 1 : 0;
    }

    @Override
    public String toString() {
      return String.format("rss from step %d to the end (%d samples): first %.1f MiB, last %.1f MiB, min %.1f MiB, "
          + "max %.1f MiB; growth %+.2f%%, spread (max/min - 1) %.2f%%, rise (over the lowest before) %.2f%%",
          fromStep, samples, firstKb / 1024.0, lastKb / 1024.0, minKb / 1024.0, maxKb / 1024.0, growth() * 100,
          spread() * 100, rise * 100);
    }
  }

  private Soak() {}

  /** Summarizes the samples at or after {@code fromStep}. */
  static Report report(List<Sample> samples, long fromStep) {
    List<Sample> w = samples.stream().filter(s -> s.step() >= fromStep).toList();
    if (w.isEmpty()) {
      w = List.of(samples.get(samples.size() - 1));
    }
    long min = w.stream().mapToLong(Sample::rssKb).min().orElse(-1);
    long max = w.stream().mapToLong(Sample::rssKb).max().orElse(-1);
    double rise = 0;
    long low = Long.MAX_VALUE;
    for (Sample x : w) {
      low = Math.min(low, x.rssKb());
      if (low > 0) {
        rise = Math.max(rise, (double) x.rssKb() / low - 1);
      }
    }
    return new Report(w.get(0).step(), w.get(0).rssKb(), w.get(w.size() - 1).rssKb(), min, max, w.size(), rise);
  }

  /** Resident set size of this process in kB (Linux {@code /proc/self/status}), or -1 when unavailable. */
  static long rssKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }

  /**
   * Runs {@code steps} steps and samples RSS every {@code every} steps (and after the last).
   *
   * @param lossSpec registry spec of the loss
   * @param minerSpec registry spec of the miner, or null
   * @param log where a line per sample goes, or null
   */
  static List<Sample> run(String lossSpec, String minerSpec, long steps, int batch, int dim, int classes, long every,
      PrintStream log) {
    MetricLoss loss = Registry.build(lossSpec, MetricLoss.class);
    BaseMiner miner = minerSpec == null ? null : Registry.build(minerSpec, BaseMiner.class);
    torch.manual_seed(0);
    List<Sample> samples = new ArrayList<>();
    long t0 = System.nanoTime();
    for (long step = 1; step <= steps; step++) {
      try (Scope s = Scope.open()) {
        Tensor emb = torch.randn(batch, dim).requires_grad_(true);
        Tensor labels = torch.remainder(torch.arange(Tensors.s((long) batch)), Tensors.s((long) classes))
            .to(ScalarType.Long);
        IndicesTuple t = miner == null ? null : miner.forward(emb, labels);
        Tensor l = loss.forward(emb, labels, t, null, null);
        l.backward();
        l.item_double();
      }
      if (step % every == 0 || step == steps) {
        Sample smp = new Sample(step, rssKb());
        samples.add(smp);
        if (log != null) {
          double secs = (System.nanoTime() - t0) / 1e9;
          log.printf("step %d  rss %.1f MiB  %.1f steps/s%n", step, smp.rssKb() / 1024.0, step / secs);
        }
      }
    }
    return samples;
  }
}
