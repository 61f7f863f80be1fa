package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.miners.BaseMiner;
import org.pml4j.spec.Registry;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

class MultipleLossesTest {
  static Tensor emb() {
    Random r = new Random(0);
    double[][] rows = new double[8][3];
    for (double[] row : rows) {
      for (int j = 0; j < 3; j++) {
        row[j] = r.nextGaussian();
      }
    }
    return Tensors.of(rows, ScalarType.Double);
  }

  static final Tensor LABELS = Tensors.longs(0, 0, 1, 1, 2, 2, 3, 3);

  static final class FixedMiner extends BaseMiner {
    FixedMiner() {
      super(null);
    }

    @Override
    protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
      return IndicesTuple.of(new long[] {0, 2}, new long[] {1, 3}, new long[] {4, 6});
    }
  }

  @Test
  void listAndMapFormsAreWeightedSums() {
    Tensor e = emb();
    TripletMarginLoss tri = new TripletMarginLoss();
    ContrastiveLoss con = new ContrastiveLoss();
    FixedMiner miner = new FixedMiner();
    double t = tri.forward(e, LABELS, miner.forward(e, LABELS)).item_double();
    double c = con.forward(e, LABELS).item_double();
    MultipleLosses list = new MultipleLosses(List.of(tri, con), Arrays.asList(miner, null), List.of(1.0, 0.5));
    assertEquals(t + 0.5 * c, list.forward(e, LABELS).item_double(), 1e-12);
    Map<String, MetricLoss> losses = new LinkedHashMap<>();
    losses.put("tri", tri);
    losses.put("con", con);
    MultipleLosses map = new MultipleLosses(losses, Map.of("tri", miner), Map.of("con", 2.0, "tri", 0.3));
    assertEquals(0.3 * t + 2.0 * c, map.forward(e, LABELS).item_double(), 1e-12);
    double tAll = tri.forward(e, LABELS).item_double(); // no miner: all triplets
    assertEquals(tAll + c, new MultipleLosses(List.of(tri, con)).forward(e, LABELS).item_double(), 1e-12);
    Tensor g = emb().requires_grad_(true);
    list.forward(g, LABELS).backward();
    assertTrue(g.grad().defined());
  }

  @Test
  void pmlAssertions() {
    TripletMarginLoss tri = new TripletMarginLoss();
    ContrastiveLoss con = new ContrastiveLoss();
    assertThrows(IllegalArgumentException.class, () -> new MultipleLosses(List.of(tri, con), null, List.of(1.0)));
    assertThrows(IllegalArgumentException.class,
        () -> new MultipleLosses(List.of(tri, con), List.of(new FixedMiner()), null));
    Map<String, MetricLoss> losses = Map.of("a", tri, "b", con);
    assertThrows(IllegalArgumentException.class, () -> new MultipleLosses(losses, null, Map.of("a", 1.0)));
    assertThrows(IllegalArgumentException.class, () -> new MultipleLosses(losses, Map.of("c", new FixedMiner()),
        null));
    MultipleLosses withMiner = new MultipleLosses(List.of(tri), Arrays.asList((BaseMiner) null), null);
    IndicesTuple t = IndicesTuple.of(new long[] {0}, new long[] {1}, new long[] {2});
    assertThrows(IllegalArgumentException.class, () -> withMiner.forward(emb(), LABELS, t));
    // without miners, the caller's tuple goes to every loss
    MultipleLosses plain = new MultipleLosses(List.of(tri));
    assertEquals(tri.forward(emb(), LABELS, t).item_double(), plain.forward(emb(), LABELS, t).item_double(), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> plain.forward(emb(), LABELS, null, emb(), LABELS));
  }

  @Test
  void specFormsAndSelfSupervisedSupport() {
    MultipleLosses m = Registry.build("{\"class\":\"MultipleLosses\",\"params\":{\"losses\":{\"x\":"
        + "{\"class\":\"TripletMarginLoss\",\"params\":{}},\"y\":\"ContrastiveLoss\"},\"weights\":{\"x\":1,\"y\":2}}}",
        MultipleLosses.class);
    assertTrue(m.isMap());
    assertEquals(List.of("x", "y"), List.copyOf(m.losses().keySet()));
    assertThrows(SpecException.class, () -> Registry.build("{\"class\":\"MultipleLosses\",\"params\":{\"losses\":"
        + "[\"TripletMarginLoss\"],\"weights\":{\"0\":1}}}"));
    assertTrue(m.parameters().isEmpty());
    assertThrows(IllegalArgumentException.class, () -> m.setParameter("losses.x.W", emb()));

    SpecException e = assertThrows(SpecException.class, () -> Registry.build("{\"class\":\"SelfSupervisedLoss\","
        + "\"params\":{\"loss\":{\"class\":\"CrossBatchMemory\",\"params\":{\"loss\":\"ContrastiveLoss\","
        + "\"embedding_size\":3}}}}"));
    assertTrue(e.getMessage().contains("SelfSupervisedLoss not supported for CrossBatchMemory"), e.getMessage());
    SelfSupervisedLoss ss = new SelfSupervisedLoss(new ContrastiveLoss(), false);
    Tensor a = emb();
    Tensor b = emb().add(Tensors.s(0.1));
    Tensor arange = Tensors.longs(0, 1, 2, 3, 4, 5, 6, 7);
    assertEquals(new ContrastiveLoss().forward(a, arange, null, b, arange.clone()).item_double(),
        ss.forward(a, b).item_double(), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> ss.forward(a, LABELS, null, b, null));
    assertThrows(IllegalArgumentException.class, () -> ss.forward(a, b.narrow(0, 0, 4)));
  }
}
