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
 * A long loop of miner + loss + backward steps on fresh random batches, sampling the process's resident set size:
 * the check that per-step {@link Scope}s keep native memory flat.
 */
public final class Soak {
  /** RSS samples (step, kB). */
  public record Sample(long step, long rssKb) {}

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
