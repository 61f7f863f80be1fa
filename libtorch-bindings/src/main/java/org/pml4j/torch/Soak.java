package org.pml4j.torch;

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
import org.pml4j.tuples.IndicesTuple;

/**
 * A long loop of miner + loss + backward steps on fresh random batches, sampling the process's resident set size:
 * the check that per-step {@link Scope}s keep native memory flat.
 */
public final class Soak {
  /** RSS samples (step, kB). */
  public record Sample(long step, long rssKb) {}

  /**
   * The RSS summary: the first sample at or after warm-up, the last and the largest after warm-up, and the growth
   * {@code last / afterWarmUp - 1}.
   */
  public record Report(long afterWarmUpKb, long lastKb, long maxKb, double growth) {
    @Override
    public String toString() {
      return String.format("rss after warm-up %.1f MiB, final %.1f MiB, max %.1f MiB, growth %+.2f%%",
          afterWarmUpKb / 1024.0, lastKb / 1024.0, maxKb / 1024.0, growth * 100);
    }
  }

  /** Summarizes samples taken by {@link #run}. */
  public static Report report(List<Sample> samples, long warmup) {
    long ref = -1;
    for (Sample s : samples) {
      if (s.step() >= warmup) {
        ref = s.rssKb();
        break;
      }
    }
    long last = samples.get(samples.size() - 1).rssKb();
    long max = samples.stream().filter(s -> s.step() >= warmup).mapToLong(Sample::rssKb).max().orElse(last);
    return new Report(ref, last, max, ref > 0 ? (double) last / ref - 1 : 0);
  }

  /**
   * Child-process entry point for tests: {@code LOSS_SPEC MINER_SPEC|none STEPS BATCH DIM CLASSES EVERY WARMUP
   * MAX_GROWTH [THREADS]} (threads default 1, through {@link Torch#setNumThreads(int)}); prints the samples and the
   * report, exits 1 when the growth exceeds MAX_GROWTH.
   */
  public static void main(String[] a) {
    Torch.setNumThreads(a.length > 9 ? Integer.parseInt(a[9]) : 1);
    List<Sample> samples = run(a[0], "none".equals(a[1]) ? null : a[1], Long.parseLong(a[2]), Integer.parseInt(a[3]),
        Integer.parseInt(a[4]), Integer.parseInt(a[5]), Long.parseLong(a[6]), System.out);
    Report r = report(samples, Long.parseLong(a[7]));
    System.out.println(r);
    System.exit(r.growth() > Double.parseDouble(a[8]) ? 1 : 0);
  }

  private Soak() {}

  /** Resident set size of this process in kB (Linux {@code /proc/self/status}), or -1 when unavailable. */
  public static long rssKb() {
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
   * Runs {@code steps} steps and samples RSS every {@code every} steps.
   *
   * @param lossSpec registry spec of the loss
   * @param minerSpec registry spec of the miner, or null
   */
  public static List<Sample> run(String lossSpec, String minerSpec, long steps, int batch, int dim, int classes,
      long every, PrintStream log) {
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
