package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * The CUDA path: {@code device=cuda} selects NCCL. Without CUDA (CI, and the CPU build of LibTorch) the selection
 * fails with a clear IllegalStateException; with a GPU and the {@code cuda} profile, a one-rank NCCL group runs an
 * all-reduce (one GPU cannot host two NCCL ranks).
 */
class NcclCollectiveTest {
  @Test
  void cudaSelectsNcclWhichNeedsCuda() {
    assumeTrue(!Torch.cudaAvailable(), "this machine has CUDA: see ncclAllReduceOnOneGpu");
    Rendezvous r = new Rendezvous("127.0.0.1", Ranks.freePort(), 0, 2, "nccl", Duration.ofSeconds(2));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Collectives.connect(r, "cuda"));
    assertTrue(e.getMessage().contains("NCCL needs CUDA"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> Collectives.connect(r, "cuda:0"));
  }

  @Test
  void ncclAllReduceOnOneGpu() {
    assumeTrue(Torch.cudaAvailable(), "no CUDA device: the NCCL path runs only where a GPU is present");
    Rendezvous r = new Rendezvous("127.0.0.1", Ranks.freePort(), 0, 1, "nccl", Duration.ofSeconds(30));
    try (Scope s = Scope.open(); Collective c = NcclCollective.connect(r)) {
      Tensor t = Tensors.of(new double[] {1, 2}, ScalarType.Float).to(Torch.device("cuda"), ScalarType.Float);
      c.allReduce(t, Collective.Reduction.SUM);
      Tensor g = c.allGather(t.reshape(1, 2));
      c.barrier();
      assertArrayEquals(new double[] {1, 2}, Tensors.toDoubles(g.cpu().flatten()));
    }
  }
}
