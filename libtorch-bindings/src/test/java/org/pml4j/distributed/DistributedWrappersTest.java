package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.losses.ContrastiveLoss;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.MetricLoss;
import org.pml4j.losses.TripletMarginLoss;
import org.pml4j.miners.MultiSimilarityMiner;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/** The wrappers at world size 1 (unchanged results), their argument checks, and the gathered order at world size 2. */
class DistributedWrappersTest {
  static Tensor randomEmbeddings(long seed, int n, int d) {
    Random rnd = new Random(seed);
    double[][] rows = new double[n][d];
    for (double[] row : rows) {
      for (int j = 0; j < d; j++) {
        row[j] = rnd.nextGaussian();
      }
    }
    return Tensors.of(rows, ScalarType.Double);
  }

  @Test
  void atWorldSizeOneTheWrappedResultIsReturnedUnchanged() {
    try (Scope s = Scope.open(); Collective one = new SingleProcessCollective()) {
      Tensor emb = randomEmbeddings(1, 12, 5);
      Tensor labels = Tensors.longs(0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2);
      IndicesTuple mined = new DistributedMinerWrapper(new MultiSimilarityMiner(), one).forward(emb, labels);
      IndicesTuple plainMined = new MultiSimilarityMiner().forward(emb, labels);
      for (int i = 0; i < 4; i++) {
        assertArrayEquals(Tensors.toLongs(plainMined.get(i)), Tensors.toLongs(mined.get(i)));
      }
      double wrapped = new DistributedLossWrapper(new TripletMarginLoss(), one).forward(emb, labels, mined, null, null)
          .item_double();
      double plain = new TripletMarginLoss().forward(emb, labels, plainMined).item_double();
      assertEquals(plain, wrapped, 0.0);
      assertTrue(plain > 0);

      Tensor mask = Tensors.bools(true, false, true, false, true, false, true, false, true, false, true, false);
      DistributedLossWrapper xbm = new DistributedLossWrapper(new CrossBatchMemory(new ContrastiveLoss(), 5, 30, null),
          one);
      CrossBatchMemory plainXbm = new CrossBatchMemory(new ContrastiveLoss(), 5, 30, null);
      for (int step = 0; step < 3; step++) {
        Tensor e = randomEmbeddings(10 + step, 12, 5);
        assertEquals(plainXbm.forward(e, labels, null, mask).item_double(),
            xbm.forward(e, labels, null, mask).item_double(), 0.0);
      }
    }
  }

  @Test
  void badArgumentsAreRefusedWithTheirNames() {
    try (Scope s = Scope.open(); Collective one = new SingleProcessCollective()) {
      CrossBatchMemory cbm = new CrossBatchMemory(new ContrastiveLoss(), 5);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new DistributedLossWrapper(cbm, true, one));
      assertTrue(e.getMessage().contains("efficient"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> new DistributedLossWrapper(null, one));
      assertTrue(e.getMessage().startsWith("loss"), e.getMessage());
      MetricLoss notAllowed = new org.pml4j.losses.MultipleLosses(List.of(new ContrastiveLoss()));
      assertThrows(IllegalArgumentException.class, () -> new DistributedLossWrapper(notAllowed, one));
      assertThrows(IllegalArgumentException.class, () -> new DistributedLossWrapper(new ContrastiveLoss(), null));
      assertThrows(IllegalArgumentException.class, () -> new DistributedMinerWrapper(null, one));
      Tensor emb = randomEmbeddings(2, 4, 5);
      Tensor labels = Tensors.longs(0, 1, 0, 1);
      e = assertThrows(IllegalArgumentException.class, () -> new DistributedLossWrapper(new ContrastiveLoss(), one)
          .forward(emb, labels, null, Tensors.bools(true, true, false, false)));
      assertTrue(e.getMessage().contains("enqueue_mask"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> new DistributedLossWrapper(cbm, one).forward(emb, labels, null, emb, labels));
      assertTrue(e.getMessage().contains("ref_emb"), e.getMessage());
    }
  }

  @Test
  void twoRanksGatherInRankOrderOrLocalFirstWhenEfficient() throws Exception {
    int port = Ranks.freePort();
    List<double[]> out = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, "order", Duration.ofSeconds(20)))) {
        Tensor local = Tensors.of(new double[] {rank * 10 + 1, rank * 10 + 2}, ScalarType.Double, 2, 1)
            .requires_grad_(true);
        Tensor rankOrder = Gathering.gather(c, local, "local", false);
        Tensor localFirst = Gathering.gather(c, local, "local", true);
        rankOrder.sum().add(localFirst.sum()).backward();
        assertTrue(rankOrder.requires_grad());
        double[] grads = Tensors.toDoubles(local.grad().flatten());
        double[] a = Tensors.toDoubles(rankOrder.detach().flatten());
        double[] b = Tensors.toDoubles(localFirst.detach().flatten());
        return new double[] {a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], grads[0], grads[1]};
      }
    });
    assertArrayEquals(new double[] {1, 2, 11, 12, 1, 2, 11, 12, 2, 2}, out.get(0));
    assertArrayEquals(new double[] {1, 2, 11, 12, 11, 12, 1, 2, 2, 2}, out.get(1));
  }
}
