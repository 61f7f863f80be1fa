package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/** Buckets, gradient means (an unused parameter included) and the rank-0 broadcast. */
class GradientAveragerTest {
  static Tensor param(double... values) {
    return Tensors.of(values, ScalarType.Double).requires_grad_(true);
  }

  @Test
  void bucketsFollowTheCapAndTheDtype() {
    try (Scope s = Scope.open(); Collective one = new SingleProcessCollective()) {
      Tensor a = param(1, 2, 3); // 24 bytes
      Tensor b = param(4, 5); // 16 bytes
      Tensor c = Tensors.of(new double[] {6}, ScalarType.Float).requires_grad_(true); // 4 bytes, another dtype
      assertEquals(1, new GradientAverager(one, List.of(a, b)).bucketCount());
      assertEquals(2, new GradientAverager(one, List.of(a, b), 30).bucketCount());
      assertEquals(2, new GradientAverager(one, List.of(a, b, c)).bucketCount());
      assertEquals(44, new GradientAverager(one, List.of(a, b, c)).bytesPerStep());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new GradientAverager(one, List.of()));
      assertTrue(e.getMessage().startsWith("parameters"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> new GradientAverager(one, List.of(a), 0));
      assertThrows(IllegalArgumentException.class, () -> new GradientAverager(one, List.of(Tensors.longs(1))));
      assertThrows(IllegalArgumentException.class, () -> new GradientAverager(null, List.of(a)));
    }
  }

  /**
   * Closing frees the averager's own handles only: the parameters it averaged stay usable; a second close is a no-op.
   */
  @Test
  void closeLeavesTheParametersUsable() {
    try (Scope s = Scope.open(); Collective one = new SingleProcessCollective()) {
      Tensor a = param(1, 2, 3);
      GradientAverager avg = new GradientAverager(one, List.of(a));
      a.sum().mul(Tensors.s(2.0)).backward();
      avg.averageGradients();
      avg.close();
      avg.close();
      assertArrayEquals(new double[] {1, 2, 3}, Tensors.toDoubles(a.detach()));
      assertArrayEquals(new double[] {2, 2, 2}, Tensors.toDoubles(a.grad()));
    }
  }

  @Test
  void gradientsAreAveragedAndParametersBroadcastAcrossTwoRanks() throws Exception {
    int port = Ranks.freePort();
    List<double[]> out = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective col = GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, "avg", Duration.ofSeconds(20)))) {
        Tensor a = param(1 + rank, 2 + rank, 3 + rank);
        Tensor b = param(10 * (rank + 1), 20);
        Tensor unused = param(7, 7);
        GradientAverager avg = new GradientAverager(col, List.of(a, b, unused), 32); // a | b, unused
        assertEquals(2, avg.bucketCount());
        avg.broadcastParameters();
        // loss = (rank + 1) * sum(a) + sum(b * b); rank 1 also uses "unused" with weight 4
        Tensor loss = a.sum().mul(Tensors.s(rank + 1.0)).add(b.mul(b).sum());
        if (rank == 1) {
          loss = loss.add(unused.sum().mul(Tensors.s(4.0)));
        }
        loss.backward();
        avg.averageGradients();
        double[] r = new double[12];
        System.arraycopy(Tensors.toDoubles(a.detach()), 0, r, 0, 3);
        System.arraycopy(Tensors.toDoubles(b.detach()), 0, r, 3, 2);
        System.arraycopy(Tensors.toDoubles(a.grad()), 0, r, 5, 3);
        System.arraycopy(Tensors.toDoubles(b.grad()), 0, r, 8, 2);
        System.arraycopy(Tensors.toDoubles(unused.grad()), 0, r, 10, 2);
        return r;
      }
    });
    // parameters: rank 0's; gradients: mean of rank 0's and rank 1's (which equal after the broadcast for b)
    double[] expected = {1, 2, 3, 10, 20, 1.5, 1.5, 1.5, 20, 40, 2, 2};
    assertArrayEquals(expected, out.get(0));
    assertArrayEquals(expected, out.get(1));
  }
}
