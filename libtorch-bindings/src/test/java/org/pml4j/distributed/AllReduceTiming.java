package org.pml4j.distributed;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * Not a test: times GradientAverager.averageGradients() for the default MLP's parameters (784-256-64, 217,408 float32)
 * at world size 2 (two threads, one Gloo group each, loopback), one bucket vs one all-reduce per parameter.
 * Run: java -cp ... org.pml4j.distributed.AllReduceTiming [iterations]
 */
public final class AllReduceTiming {
  private AllReduceTiming() {}

  public static void main(String[] args) throws Exception {
    int iters = args.length > 0 ? Integer.parseInt(args[0]) : 300;
    Torch.ensureLoaded();
    Torch.setNumThreads(1);
    int port = Ranks.freePort();
    long[][] shapes = {{256, 784}, {256}, {64, 256}, {64}};
    List<String> lines = Ranks.run(2, 600, rank -> {
      try (Collective c = GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, "timing", Duration.ofSeconds(60)))) {
        List<Tensor> params = new ArrayList<>();
        Owner owner = new Owner();
        for (long[] s : shapes) {
          Tensor p = owner.own(torch.randn(s).requires_grad_(true));
          p.sum().backward();
          params.add(p);
        }
        GradientAverager one = new GradientAverager(c, params);
        GradientAverager each = new GradientAverager(c, params, 1);
        StringBuilder out = new StringBuilder();
        for (int round = 0; round < 2; round++) {
          for (GradientAverager g : new GradientAverager[] {one, each}) {
            double[] allReduceMs = new double[iters];
            double[] totalMs = new double[iters];
            for (int i = 0; i < iters; i++) {
              try (Scope s = Scope.open()) {
                c.barrier();
                long t0 = System.nanoTime();
                g.averageGradients();
                totalMs[i] = (System.nanoTime() - t0) / 1e6;
                allReduceMs[i] = g.lastAllReduceNanos() / 1e6;
              }
            }
            Arrays.sort(allReduceMs);
            Arrays.sort(totalMs);
            out.append(String.format("rank %d round %d: %d bucket(s), %d bytes: all-reduce median %.3f ms (p90 %.3f),"
                    + " averageGradients median %.3f ms%n", rank, round, g.bucketCount(), g.bytesPerStep(),
                allReduceMs[iters / 2], allReduceMs[iters * 9 / 10], totalMs[iters / 2]));
          }
        }
        return out.toString();
      }
    });
    lines.forEach(System.out::print);
    System.out.println("floats: " + (256 * 784 + 256 + 64 * 256 + 64));
  }
}
