package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.distances.DotProductSimilarity;
import org.pml4j.distances.LpDistance;
import org.pml4j.miners.MultiSimilarityMiner;
import org.pml4j.reducers.AvgNonZeroReducer;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.DivisorReducer;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.MultipleReducers;
import org.pml4j.reducers.PerAnchorReducer;
import org.pml4j.reducers.SumReducer;
import org.pml4j.reducers.ThresholdReducer;
import org.pml4j.regularizers.LpRegularizer;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * The dense path of the pair losses (fused kernel and masked operations) against PML's indexed pairs, on random
 * float64 inputs: values and gradients (of the embeddings and of a reference set) to 1e-10.
 */
class DensePairPathTest {
  private static final double TOL = 1e-10;

  @AfterEach
  void restoreMode() {
    GenericPairLoss.mode = GenericPairLoss.DenseMode.FUSED;
    DenseContrastive.tileOverride = 0;
    Torch.setNumThreads(1);
  }

  /** Inputs of one comparison: batch, labels, and an optional reference set. */
  private record Case(double[][] emb, long[] labels, double[][] ref, long[] refLabels, boolean refGrad, String name) {}

  private static double[][] rand(java.util.Random r, int n, int d) {
    double[][] x = new double[n][d];
    for (double[] row : x) {
      for (int j = 0; j < d; j++) {
        row[j] = r.nextGaussian();
      }
    }
    return x;
  }

  private static long[] labels(java.util.Random r, int n, int classes) {
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = r.nextInt(classes);
    }
    return y;
  }

  private static List<Case> cases() {
    java.util.Random r = new java.util.Random(42);
    List<Case> cs = new ArrayList<>();
    for (int k = 0; k < 3; k++) {
      cs.add(new Case(rand(r, 14, 5), labels(r, 14, 3), null, null, false, "batch " + k));
    }
    cs.add(new Case(rand(r, 30, 6), labels(r, 30, 4), null, null, false, "batch 30 (cdist mm path)"));
    cs.add(new Case(rand(r, 9, 5), labels(r, 9, 3), rand(r, 40, 5), labels(r, 40, 3), false, "ref_emb"));
    cs.add(new Case(rand(r, 9, 5), labels(r, 9, 3), rand(r, 13, 5), labels(r, 13, 3), true, "ref_emb with grad"));
    cs.add(new Case(rand(r, 8, 4), new long[] {0, 1, 2, 3, 4, 5, 6, 7}, null, null, false, "no positive pairs"));
    cs.add(new Case(rand(r, 8, 4), new long[8], null, null, false, "a single class"));
    cs.add(new Case(rand(r, 1, 4), new long[] {3}, null, null, false, "one sample"));
    cs.add(new Case(rand(r, 3, 4), new long[] {1, 1, 2}, null, null, false, "one positive pair"));
    return cs;
  }

  /** Value and gradients: {loss, grad of emb, grad of ref (or empty)}. */
  private static double[][] run(Supplier<MetricLoss> lossFactory, Case c, GenericPairLoss.DenseMode mode) {
    GenericPairLoss.mode = mode;
    try (Scope s = Scope.open()) {
      MetricLoss loss = lossFactory.get();
      Tensor emb = Tensors.of(c.emb(), ScalarType.Double).requires_grad_(true);
      Tensor y = Tensors.longs(c.labels());
      Tensor ref = null;
      Tensor refY = null;
      if (c.ref() != null) {
        ref = Tensors.of(c.ref(), ScalarType.Double).requires_grad_(c.refGrad());
        refY = Tensors.longs(c.refLabels());
      }
      Tensor l = loss.forward(emb, y, null, ref, refY);
      double v = l.item_double();
      double[] g = new double[0];
      double[] gr = new double[0];
      if (l.requires_grad()) {
        l.backward();
        g = emb.grad().defined() ? Tensors.toDoubles(emb.grad()) : new double[0];
        if (ref != null && c.refGrad() && ref.grad().defined()) {
          gr = Tensors.toDoubles(ref.grad());
        }
      }
      return new double[][] {{v}, g, gr};
    }
  }

  private static void assertClose(double[][] want, double[][] got, String what) {
    assertEquals(want[0][0], got[0][0], TOL * Math.max(1, Math.abs(want[0][0])), what + ": value");
    for (int k = 1; k < 3; k++) {
      double[] a = want[k];
      double[] b = got[k];
      if (a.length == 0 || b.length == 0) {
        // no graph on one side: the other side's gradient must be all zeros
        for (double x : (a.length == 0 ? b : a)) {
          assertEquals(0.0, x, TOL, what + ": gradient " + k + " (one side has none)");
        }
        continue;
      }
      assertEquals(a.length, b.length, what);
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], TOL * Math.max(1, Math.abs(a[i])), what + ": gradient " + k + " [" + i + "]");
      }
    }
  }

  private static void compareAllModes(String name, Supplier<MetricLoss> f) {
    for (Case c : cases()) {
      double[][] indexed = run(f, c, GenericPairLoss.DenseMode.INDEXED);
      assertClose(indexed, run(f, c, GenericPairLoss.DenseMode.MASKED), name + ", " + c.name() + ", masked");
      assertClose(indexed, run(f, c, GenericPairLoss.DenseMode.FUSED), name + ", " + c.name() + ", fused");
    }
  }

  private static LossOptions with(BaseReducer r) {
    return LossOptions.defaults().withReducer(r);
  }

  @Test
  void contrastiveWithEveryDenseReducerAndDistance() {
    List<Supplier<BaseReducer>> reducers = List.of(AvgNonZeroReducer::new, MeanReducer::new, SumReducer::new,
        DivisorReducer::new, () -> new ThresholdReducer(0.1, 0.9), () -> new ThresholdReducer(null, 0.5),
        () -> new MultipleReducers(Map.of("pos_loss", new MeanReducer()), new AvgNonZeroReducer()));
    for (Supplier<BaseReducer> red : reducers) {
      String rn = red.get().toString();
      compareAllModes("Contrastive default, " + rn, () -> new ContrastiveLoss(0, 1, with(red.get())));
      compareAllModes("Contrastive margins 0.3/0.8, " + rn, () -> new ContrastiveLoss(0.3, 0.8, with(red.get())));
      compareAllModes("Contrastive cosine, " + rn, () -> new ContrastiveLoss(0.9, 0.2,
          with(red.get()).withDistance(new CosineSimilarity())));
    }
    compareAllModes("Contrastive Lp unnormalized", () -> new ContrastiveLoss(0.5, 2.5,
        LossOptions.defaults().withDistance(new LpDistance(false, 2, 1))));
    compareAllModes("Contrastive Lp squared (masked, no fused kernel)", () -> new ContrastiveLoss(0.1, 1.5,
        LossOptions.defaults().withDistance(new LpDistance(true, 2, 2))));
    compareAllModes("Contrastive L1 (masked)", () -> new ContrastiveLoss(0.2, 1.5,
        LossOptions.defaults().withDistance(new LpDistance(true, 1, 1))));
    compareAllModes("Contrastive dot product", () -> new ContrastiveLoss(1.0, 0.0,
        LossOptions.defaults().withDistance(new DotProductSimilarity())));
    compareAllModes("Contrastive + embedding regularizer", () -> new ContrastiveLoss(0, 1,
        LossOptions.defaults().withEmbeddingRegularizer(new LpRegularizer()).withEmbeddingRegWeight(0.3)));
  }

  @Test
  void ntxentAndMatBasedLosses() {
    compareAllModes("NTXent", NTXentLoss::new);
    compareAllModes("NTXent t=0.5 AvgNonZero", () -> new NTXentLoss(0.5, with(new AvgNonZeroReducer())));
    compareAllModes("NTXent Lp", () -> new NTXentLoss(0.2, LossOptions.defaults().withDistance(new LpDistance())));
    compareAllModes("NTXent Sum", () -> new NTXentLoss(0.1, with(new SumReducer())));
    compareAllModes("MultiSimilarity", MultiSimilarityLoss::new);
    compareAllModes("Circle", CircleLoss::new);
    compareAllModes("SupCon", SupConLoss::new);
    compareAllModes("SupCon Lp", () -> new SupConLoss(0.2, LossOptions.defaults().withDistance(new LpDistance())));
    compareAllModes("GeneralizedLiftedStructure", GeneralizedLiftedStructureLoss::new);
  }

  @Test
  void reducersThatNeedIndicesKeepTheIndexedPath() {
    assertFalse(new ContrastiveLoss(0, 1, with(new PerAnchorReducer())).denseApplies());
    assertTrue(new ContrastiveLoss().denseApplies());
    assertTrue(new NTXentLoss().denseApplies());
    assertFalse(new TripletMarginLossProbe().isPair());
    // a subclass of a dense reducer may override its reduction: indexed
    assertFalse(new ContrastiveLoss(0, 1, with(new MeanReducer() {})).denseApplies());
    compareAllModes("Contrastive PerAnchor (indexed everywhere)",
        () -> new ContrastiveLoss(0, 1, with(new PerAnchorReducer().withSizeByRef(true))));
  }

  /** Not a pair loss: CrossBatchMemory must not take the dense path for it. */
  private static final class TripletMarginLossProbe {
    boolean isPair() {
      return GenericPairLoss.class.isAssignableFrom(TripletMarginLoss.class);
    }
  }

  /** CrossBatchMemory over several steps (filling, wrapping): dense against indexed, same stream of batches. */
  @Test
  void crossBatchMemoryDenseEqualsIndexed() {
    List<Supplier<BaseMetricLossFunction>> losses = List.of(ContrastiveLoss::new,
        () -> new ContrastiveLoss(0.2, 0.7, with(new MeanReducer())),
        () -> new ContrastiveLoss(0.8, 0.1, LossOptions.defaults().withDistance(new CosineSimilarity())),
        NTXentLoss::new, MultiSimilarityLoss::new, SupConLoss::new, CircleLoss::new);
    for (Supplier<BaseMetricLossFunction> lf : losses) {
      for (boolean enqueueMask : new boolean[] {false, true}) {
        CrossBatchMemory dense = new CrossBatchMemory(lf.get(), 6, 20, null);
        CrossBatchMemory indexed = new CrossBatchMemory(lf.get(), 6, 20, null);
        java.util.Random r = new java.util.Random(7);
        for (int step = 0; step < 7; step++) {
          double[][] e = rand(r, 8, 6);
          long[] y = labels(r, 8, 3);
          boolean[] mask = new boolean[8];
          for (int i = 0; i < 8; i++) {
            mask[i] = r.nextInt(3) == 0;
          }
          double[][] a = cbmStep(dense, e, y, enqueueMask ? mask : null, GenericPairLoss.DenseMode.FUSED);
          double[][] b = cbmStep(indexed, e, y, enqueueMask ? mask : null, GenericPairLoss.DenseMode.INDEXED);
          assertClose(b, a, lf.get().getClass().getSimpleName() + " CBM step " + step + " mask " + enqueueMask);
        }
        assertEquals(indexed.queueIdx(), dense.queueIdx());
      }
    }
  }

  private static double[][] cbmStep(CrossBatchMemory cbm, double[][] e, long[] y, boolean[] mask,
      GenericPairLoss.DenseMode mode) {
    GenericPairLoss.mode = mode;
    try (Scope s = Scope.open()) {
      Tensor emb = Tensors.of(e, ScalarType.Double).requires_grad_(true);
      Tensor l = cbm.forward(emb, Tensors.longs(y), null, mask == null ? null : Tensors.bools(mask));
      double v = l.item_double();
      l.backward();
      return new double[][] {{v}, emb.grad().defined() ? Tensors.toDoubles(emb.grad()) : new double[0],
          new double[0]};
    }
  }

  /** With a miner, CrossBatchMemory keeps PML's indexed pairs (same result in every mode). */
  @Test
  void crossBatchMemoryWithMinerIsUnchanged() {
    CrossBatchMemory a = new CrossBatchMemory(new ContrastiveLoss(), 6, 20, new MultiSimilarityMiner(0.1, null));
    CrossBatchMemory b = new CrossBatchMemory(new ContrastiveLoss(), 6, 20, new MultiSimilarityMiner(0.1, null));
    java.util.Random r = new java.util.Random(3);
    for (int step = 0; step < 4; step++) {
      double[][] e = rand(r, 8, 6);
      long[] y = labels(r, 8, 3);
      assertClose(cbmStep(b, e, y, null, GenericPairLoss.DenseMode.INDEXED),
          cbmStep(a, e, y, null, GenericPairLoss.DenseMode.FUSED), "CBM + miner step " + step);
    }
  }

  /**
   * A float32 loss of {@code n} random [16] embeddings against a random reference of 600 rows (5 classes, seeded),
   * in the indexed mode and then the fused one: for each, the loss value followed by the embeddings' gradient.
   */
  private static double[][] float32IndexedAndFused(long seed, int n, Supplier<ContrastiveLoss> loss) {
    double[][] res = new double[2][];
    for (GenericPairLoss.DenseMode mode : new GenericPairLoss.DenseMode[] {GenericPairLoss.DenseMode.INDEXED,
        GenericPairLoss.DenseMode.FUSED}) {
      GenericPairLoss.mode = mode;
      try (Scope s = Scope.open()) {
        torch.manual_seed(seed);
        Tensor emb = torch.randn(n, 16).requires_grad_(true);
        Tensor ref = torch.randn(600, 16);
        Tensor y = torch.randint(5, new long[] {n});
        Tensor ry = torch.randint(5, new long[] {600});
        Tensor l = loss.get().forward(emb, y, null, ref, ry);
        l.backward();
        double[] g = Tensors.toDoubles(emb.grad());
        double[] out = new double[g.length + 1];
        out[0] = l.item_double();
        System.arraycopy(g, 0, out, 1, g.length);
        res[mode == GenericPairLoss.DenseMode.INDEXED ? 0 : 1] = out;
      }
    }
    return res;
  }

  /** float32: the fused kernel against the indexed path at float32 precision, at a CrossBatchMemory-like size. */
  @Test
  void float32FusedMatchesIndexed() {
    double[][] res = float32IndexedAndFused(5, 64, ContrastiveLoss::new);
    for (int i = 0; i < res[0].length; i++) {
      assertEquals(res[0][i], res[1][i], 2e-5 * Math.max(1, Math.abs(res[0][i])), "float32 entry " + i);
    }
  }

  /**
   * The fused ContrastiveLoss kernel tiles the reference columns: with tiles of 1, 3, 7 and 64 columns (the cases'
   * 1 to 40 columns: M below, equal to and not a multiple of the tile; same-label and self columns on every side of
   * a tile boundary) on 1 and 2 threads, it equals the indexed path, values and both gradients.
   */
  @Test
  void fusedContrastiveTilesEqualIndexed() {
    List<Supplier<MetricLoss>> losses = List.of(ContrastiveLoss::new,
        () -> new ContrastiveLoss(0.3, 0.8, with(new ThresholdReducer(0.1, 0.9))),
        () -> new ContrastiveLoss(0.3, 0.8, with(new MeanReducer())),
        () -> new ContrastiveLoss(0.5, 2.5, LossOptions.defaults().withDistance(new LpDistance(false, 2, 1))),
        () -> new ContrastiveLoss(0.9, 0.2, with(new SumReducer()).withDistance(new CosineSimilarity())));
    for (int threads : new int[] {1, 2}) {
      Torch.setNumThreads(threads);
      for (int tile : new int[] {1, 3, 7, 64}) {
        for (int k = 0; k < losses.size(); k++) {
          for (Case c : cases()) {
            DenseContrastive.tileOverride = 0;
            double[][] indexed = run(losses.get(k), c, GenericPairLoss.DenseMode.INDEXED);
            DenseContrastive.tileOverride = tile;
            assertClose(indexed, run(losses.get(k), c, GenericPairLoss.DenseMode.FUSED),
                "loss " + k + ", " + c.name() + ", tile " + tile + ", threads " + threads);
          }
        }
      }
    }
  }

  /**
   * CrossBatchMemory's self slots (the batch's own memory columns, dropped from the positives) wherever the tiles
   * cut the memory: 20 slots in tiles of 3 and 7, the queue wrapping around, on 1 and 2 threads.
   */
  @Test
  void fusedCrossBatchMemoryTilesEqualIndexed() {
    for (int threads : new int[] {1, 2}) {
      Torch.setNumThreads(threads);
      for (int tile : new int[] {3, 7}) {
        CrossBatchMemory dense = new CrossBatchMemory(new ContrastiveLoss(), 6, 20, null);
        CrossBatchMemory indexed = new CrossBatchMemory(new ContrastiveLoss(), 6, 20, null);
        java.util.Random r = new java.util.Random(11);
        for (int step = 0; step < 6; step++) {
          double[][] e = rand(r, 8, 6);
          long[] y = labels(r, 8, 3);
          DenseContrastive.tileOverride = tile;
          double[][] a = cbmStep(dense, e, y, null, GenericPairLoss.DenseMode.FUSED);
          DenseContrastive.tileOverride = 0;
          double[][] b = cbmStep(indexed, e, y, null, GenericPairLoss.DenseMode.INDEXED);
          assertClose(b, a, "CBM step " + step + ", tile " + tile + ", threads " + threads);
        }
      }
    }
  }

  /**
   * float32 through tiles: 600 reference columns in tiles of 64 (the last one 24 wide) and of 1,000 (M below the
   * tile), on 1 and 2 threads, against the indexed path at float32 precision.
   */
  @Test
  void float32FusedTilesMatchIndexed() {
    for (int threads : new int[] {1, 2}) {
      Torch.setNumThreads(threads);
      for (int tile : new int[] {64, 1000}) {
        DenseContrastive.tileOverride = tile;
        double[][] res = float32IndexedAndFused(6, 48, () -> new ContrastiveLoss(0.2, 1.3, LossOptions.defaults()));
        assertTrue(Math.abs(res[0][0]) > 1e-3, "a nonzero loss");
        for (int i = 0; i < res[0].length; i++) {
          assertEquals(res[0][i], res[1][i], 2e-5 * Math.max(1, Math.abs(res[0][i])),
              "float32 entry " + i + ", tile " + tile + ", threads " + threads);
        }
      }
    }
  }
}
