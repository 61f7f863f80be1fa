package org.pml4j.miners;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * Not a test: CPU time of MultiSimilarityMiner.forward on a batch of B 64-d embeddings of 10 classes
 * (the stream job's default trainer mines B = its batch). Run: java -cp ... org.pml4j.miners.MinerTiming [B] [iters]
 */
public final class MinerTiming {
  private MinerTiming() {}

  public static void main(String[] args) {
    int b = args.length > 0 ? Integer.parseInt(args[0]) : 512;
    int iters = args.length > 1 ? Integer.parseInt(args[1]) : 50;
    Torch.ensureLoaded();
    Torch.setNumThreads(1);
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    torch.manual_seed(0);
    try (Scope s = Scope.open()) {
      Tensor emb = torch.randn(b, 64); // CosineSimilarity normalizes
      Tensor labels = torch.randint(10, new long[] {b});
      MultiSimilarityMiner m = new MultiSimilarityMiner();
      for (int round = 0; round < 3; round++) {
        long c0 = mx.getCurrentThreadCpuTime();
        long pairs = 0;
        for (int i = 0; i < iters; i++) {
          try (Scope inner = Scope.open()) {
            pairs = Tensors.len(m.forward(emb, labels).get(2));
          }
        }
        System.out.printf("B %d: %.2f ms CPU per call (%d hard negatives)%n", b,
            (mx.getCurrentThreadCpuTime() - c0) / 1e6 / iters, pairs);
      }
    }
  }
}
