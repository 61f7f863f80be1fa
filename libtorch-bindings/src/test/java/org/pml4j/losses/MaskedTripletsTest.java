package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Supplier;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.distances.LpDistance;
import org.pml4j.miners.MultiSimilarityMiner;
import org.pml4j.reducers.AvgNonZeroReducer;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.SumReducer;
import org.pml4j.reducers.ThresholdReducer;
import org.pml4j.regularizers.LpRegularizer;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.tuples.IndicesTuple;

/**
 * TripletMarginLoss's {@link MaskedTriplets} kernel against PML's indexed path (triplet index tensors, gather,
 * reducer): on random batches, with a miner's pair masks and over all triplets of the labels, with and without a
 * reference set, distances and similarities, every reducer the kernel takes (inside MultipleReducers too, with an
 * embedding regularizer), float64 to 1e-10 and float32 to float rounding, at 1 and 2 kernel threads (bit-identical).
 */
class MaskedTripletsTest {
  @AfterEach
  void restore() {
    TripletMarginLoss.maskedKernel = true;
    Torch.setNumThreads(1);
  }

  private static double[][] rand(Random r, int n, int d, boolean overflow) {
    double[][] x = new double[n][d];
    for (double[] row : x) {
      for (int j = 0; j < d; j++) {
        row[j] = r.nextGaussian();
      }
    }
    if (overflow) {
      java.util.Arrays.fill(x[r.nextInt(n)], 3e19); // finite, but its float32 squared distances are infinite
    }
    return x;
  }

  private static long[] labels(Random r, int n, int classes) {
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = r.nextInt(classes);
    }
    return y;
  }

  private record Inputs(double[][] emb, long[] y, double[][] ref, long[] refY, boolean refGrad) {}

  /** {value, grad of emb, grad of ref (or empty)}; {@code minedAsMasks}: the miner's masks, or its pairs as indices. */
  private static double[][] run(Supplier<TripletMarginLoss> f, Inputs in, ScalarType dtype, boolean kernel,
      Boolean minedAsMasks) {
    TripletMarginLoss.maskedKernel = kernel;
    try (Scope s = Scope.open()) {
      Tensor emb = Tensors.of(in.emb(), dtype).requires_grad_(true);
      Tensor y = Tensors.longs(in.y());
      Tensor ref = in.ref() == null ? null : Tensors.of(in.ref(), dtype).requires_grad_(in.refGrad());
      Tensor refY = in.refY() == null ? null : Tensors.longs(in.refY());
      IndicesTuple t = null;
      if (minedAsMasks != null) {
        t = new MultiSimilarityMiner(0.1, new LpDistance()).forward(emb.detach(), y,
            ref == null ? null : ref.detach(), refY);
        if (!minedAsMasks) {
          t = IndicesTuple.of(t.tensors());
        }
      }
      Tensor l = f.get().forward(emb, y, t, ref, refY);
      double[] g = new double[0];
      double[] gr = new double[0];
      if (l.requires_grad()) {
        l.backward();
        g = emb.grad().defined() ? Tensors.toDoubles(emb.grad()) : g;
        gr = ref != null && in.refGrad() && ref.grad().defined() ? Tensors.toDoubles(ref.grad()) : gr;
      }
      return new double[][] {{l.item_double()}, g, gr};
    }
  }

  private static void assertClose(double[][] want, double[][] got, double tol, String what) {
    if (Double.isNaN(want[0][0])) {
      assertTrue(Double.isNaN(got[0][0]), what + ": value NaN on both paths, got " + got[0][0]);
    } else {
      assertEquals(want[0][0], got[0][0], tol * Math.max(1, Math.abs(want[0][0])), what + ": value");
    }
    for (int k = 1; k < 3; k++) {
      double[] a = want[k].length == 0 ? new double[got[k].length] : want[k];
      double[] b = got[k].length == 0 ? new double[a.length] : got[k];
      assertEquals(a.length, b.length, what + ": gradient " + k + " length");
      for (int i = 0; i < a.length; i++) {
        if (Double.isNaN(a[i])) {
          assertTrue(Double.isNaN(b[i]), what + ": gradient " + k + " [" + i + "] NaN on both paths");
        } else {
          assertEquals(a[i], b[i], tol * Math.max(1, Math.abs(a[i])), what + ": gradient " + k + " [" + i + "]");
        }
      }
    }
  }

  private static LossOptions with(BaseReducer r) {
    return LossOptions.defaults().withReducer(r);
  }

  @Test
  void kernelEqualsTheIndexedPathOnRandomBatches() {
    java.util.List<Supplier<TripletMarginLoss>> losses = java.util.List.of(TripletMarginLoss::new,
        () -> new TripletMarginLoss(0.3),
        () -> new TripletMarginLoss(0.2, false, false, null, with(new MeanReducer())),
        () -> new TripletMarginLoss(0.2, false, false, null, with(new SumReducer())),
        () -> new TripletMarginLoss(0.5, false, false, null, with(new ThresholdReducer(0.05, 0.6))),
        () -> new TripletMarginLoss(0.1, false, false, null, with(new ThresholdReducer(null, 0.3))),
        () -> new TripletMarginLoss(0.1, false, false, null,
            LossOptions.defaults().withDistance(new CosineSimilarity())),
        () -> new TripletMarginLoss(0.05, false, false, null,
            LossOptions.defaults().withEmbeddingRegularizer(new LpRegularizer()).withEmbeddingRegWeight(0.3)),
        () -> new TripletMarginLoss(0.05, false, false, null,
            LossOptions.defaults().withDistance(new LpDistance(false, 2, 1))));
    Random r = new Random(3);
    int cases = 0;
    for (int trial = 0; trial < 12; trial++) {
      int n = 6 + r.nextInt(30);
      boolean withRef = trial % 3 == 2;
      int m = withRef ? 5 + r.nextInt(40) : n;
      int classes = trial == 0 ? n : 1 + r.nextInt(5); // trial 0: no positive pair at all
      Inputs in = new Inputs(rand(r, n, 5, false), labels(r, n, classes), withRef ? rand(r, m, 5, false) : null,
          withRef ? labels(r, m, classes) : null, trial % 2 == 0);
      for (int li = 0; li < losses.size(); li++) {
        Supplier<TripletMarginLoss> f = losses.get(li);
        for (ScalarType dtype : new ScalarType[] {ScalarType.Double, ScalarType.Float}) {
          double tol = dtype == ScalarType.Double ? 1e-10 : 2e-5;
          String what = "loss " + li + ", trial " + trial + ", " + dtype;
          // all triplets of the labels
          double[][] indexed = run(f, in, dtype, false, null);
          assertClose(indexed, run(f, in, dtype, true, null), tol, what + ", all triplets");
          // a miner's pairs: masks through the kernel, the same pairs as indices through PML's path
          double[][] minedIndexed = run(f, in, dtype, true, false);
          assertClose(minedIndexed, run(f, in, dtype, true, true), tol, what + ", mined");
          assertClose(minedIndexed, run(f, in, dtype, false, true), tol, what + ", mined, kernel off");
          cases++;
        }
      }
    }
    assertTrue(cases >= 200, "cases: " + cases);
  }

  @Test
  void theKernelNeverMaterialisesTheMinedPairsAndIsTheSameAtTwoThreads() {
    Random r = new Random(8);
    try (Scope s = Scope.open()) {
      Tensor emb = Tensors.of(rand(r, 64, 8, false), ScalarType.Float);
      Tensor y = Tensors.longs(labels(r, 64, 4));
      Tensor[] masks = new MultiSimilarityMiner(0.1, new LpDistance()).forward(emb, y).pairMasks();
      IndicesTuple lazy = IndicesTuple.pairsFromMasks(masks[0], masks[1], () -> {
        throw new AssertionError("the kernel must not ask for the pair indices");
      });
      double[] values = new double[2];
      double[][] grads = new double[2][];
      for (int threads = 1; threads <= 2; threads++) {
        Torch.setNumThreads(threads);
        Tensor e = emb.detach().clone().requires_grad_(true);
        Tensor l = new TripletMarginLoss(0.2).forward(e, y, lazy);
        l.backward();
        values[threads - 1] = l.item_double();
        grads[threads - 1] = Tensors.toDoubles(e.grad());
      }
      assertTrue(values[0] > 0, "a loss to compare: " + values[0]);
      assertEquals(Double.doubleToLongBits(values[0]), Double.doubleToLongBits(values[1]), "value at 1 and 2 threads");
      assertTrue(java.util.Arrays.equals(grads[0], grads[1]), "gradient at 1 and 2 threads");
    }
  }

  @Test
  void anOverflowingMatrixTakesTheIndexedPathAndGivesPmlsResult() {
    Random r = new Random(4);
    int nonFinite = 0;
    for (int trial = 0; trial < 8; trial++) {
      Inputs in = new Inputs(rand(r, 12, 4, true), labels(r, 12, 3), null, null, false);
      for (Boolean mined : new Boolean[] {null, Boolean.TRUE}) {
        Supplier<TripletMarginLoss> f = () -> new TripletMarginLoss(0.05, false, false, null,
            LossOptions.defaults().withDistance(new LpDistance(false, 2, 1)));
        double[][] indexed = run(f, in, ScalarType.Float, false, mined);
        double[][] kernel = run(f, in, ScalarType.Float, true, mined);
        nonFinite += Double.isFinite(indexed[0][0]) ? 0 : 1;
        assertEquals(Double.doubleToLongBits(indexed[0][0]), Double.doubleToLongBits(kernel[0][0]),
            "overflow trial " + trial + ": the value bit for bit (" + indexed[0][0] + ")");
      }
    }
    assertTrue(nonFinite > 0, "some overflowing triplet reached the loss");
  }

  @Test
  void swapSmoothLossAndSampledTripletsKeepTheIndexedPath() {
    Random r = new Random(5);
    Inputs in = new Inputs(rand(r, 16, 4, false), labels(r, 16, 3), null, null, false);
    for (Supplier<TripletMarginLoss> f : java.util.List.<Supplier<TripletMarginLoss>>of(
        () -> new TripletMarginLoss(0.1, true, false, null, LossOptions.defaults()),
        () -> new TripletMarginLoss(0.1, false, true, null, LossOptions.defaults()),
        () -> new TripletMarginLoss(0.1, false, false, null, with(new AvgNonZeroReducer() {})))) {
      for (Boolean mined : new Boolean[] {null, Boolean.TRUE}) {
        double[][] off = run(f, in, ScalarType.Double, false, mined);
        double[][] on = run(f, in, ScalarType.Double, true, mined);
        assertEquals(Double.doubleToLongBits(off[0][0]), Double.doubleToLongBits(on[0][0]));
        assertTrue(java.util.Arrays.equals(off[1], on[1]), "the same (indexed) gradient");
      }
    }
  }
}
