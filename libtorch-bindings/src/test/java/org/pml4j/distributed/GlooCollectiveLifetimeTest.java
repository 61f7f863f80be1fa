package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.time.Duration;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Tensors;

/**
 * Regression test of issue 13's heap corruption: collectives run outside any {@code Scope} (so nothing but the group
 * itself frees their native objects), the group is closed (or dropped without closing), and the garbage collector runs
 * while the next groups form. Before the fix, Gloo's {@code Work} objects were left to JavaCPP's garbage-collector
 * thread, which freed them after {@code close()} had deleted the stores that their {@code gloo::Context} still
 * referenced; glibc then aborted the JVM ("corrupted double-linked list") within 30 rounds, 4 of 4 runs. A JVM abort
 * fails this test's fork.
 */
class GlooCollectiveLifetimeTest {
  static final int ROUNDS = 30;

  private static double[] round(int port, int round, boolean close) throws Exception {
    List<double[]> out = Ranks.run(2, 120, rank -> {
      Collective c = GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, "round-" + round, Duration.ofSeconds(30)));
      try {
        Tensor t = Tensors.of(new double[] {rank + 1.0, 10.0 * rank}, ScalarType.Double);
        c.allReduce(t, Collective.Reduction.SUM);
        c.broadcast(t);
        Tensor all = c.allGather(t);
        c.barrier();
        return Tensors.toDoubles(all);
      } finally {
        if (close) {
          c.close();
        }
      }
    });
    assertArrayEquals(out.get(0), out.get(1), "round " + round);
    return out.get(0);
  }

  private static void collectGarbage() throws InterruptedException {
    System.gc();
    Thread.sleep(100); // JavaCPP frees unreachable pointers on its own thread
  }

  @Test
  void closedGroupsSurviveTheGarbageCollector() throws Exception {
    for (int r = 0; r < ROUNDS; r++) {
      assertArrayEquals(new double[] {3, 10, 3, 10}, round(Ranks.freePort(), r, true));
      collectGarbage();
    }
  }

  @Test
  void groupsThatAreNeverClosedAreFreedSafely() throws Exception {
    for (int r = 0; r < ROUNDS / 3; r++) {
      assertArrayEquals(new double[] {3, 10, 3, 10}, round(Ranks.freePort(), r, false));
      collectGarbage();
    }
  }
}
