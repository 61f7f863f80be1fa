package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.DoubleBinaryOperator;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.PerAnchorReducer;
import org.pml4j.reducers.SumReducer;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * The documented PML 2.8.1 bugs: by default pml4j reproduces PML (checked against a direct formula of PML's
 * behaviour), and each opt-in fix gives the corrected value (checked against a direct formula of the intended loss).
 */
class PmlBugFixOptionsTest {
  private static final double TOL = 1e-10;
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  // ------------------------------------------------------------------ plain-Java helpers (the direct formulas)

  private static double[][] gaussian(int n, int d, long seed) {
    Random r = new Random(seed);
    double[][] x = new double[n][d];
    for (double[] row : x) {
      for (int j = 0; j < d; j++) {
        row[j] = r.nextGaussian();
      }
    }
    return x;
  }

  private static Tensor t(double[][] x) {
    return Tensors.of(x, ScalarType.Double);
  }

  private static double norm(double[] x) {
    double s = 0;
    for (double v : x) {
      s += v * v;
    }
    return Math.sqrt(s);
  }

  private static double cos(double[] x, double[] y) {
    double s = 0;
    for (int i = 0; i < x.length; i++) {
      s += x[i] * y[i];
    }
    return s / (norm(x) * norm(y));
  }

  /** Euclidean distance of the L2-normalized vectors (PML's default LpDistance). */
  private static double l2n(double[] x, double[] y) {
    double nx = norm(x);
    double ny = norm(y);
    double s = 0;
    for (int i = 0; i < x.length; i++) {
      double d = x[i] / nx - y[i] / ny;
      s += d * d;
    }
    return Math.sqrt(s);
  }

  private static double mean(List<Double> xs) {
    return xs.stream().mapToDouble(Double::doubleValue).average().orElse(0);
  }

  // ------------------------------------------------------------------ TripletMarginLoss(swap=True) with ref_emb

  /** AvgNonZero of relu(d(a,p) - min(d(a,n), pn(p,n)) + margin) over all (a, p, n) from the labels. */
  private static double tripletSwap(double[][] q, long[] ql, double[][] r, long[] rl, double margin,
      DoubleBinaryOperator pn) {
    List<Double> nonZero = new ArrayList<>();
    for (int a = 0; a < q.length; a++) {
      for (int p = 0; p < r.length; p++) {
        if (ql[a] != rl[p]) {
          continue;
        }
        for (int n = 0; n < r.length; n++) {
          if (ql[a] == rl[n]) {
            continue;
          }
          double an = Math.min(l2n(q[a], r[n]), pn.applyAsDouble(p, n));
          double loss = Math.max(0, l2n(q[a], r[p]) - an + margin);
          if (loss > 0) {
            nonZero.add(loss);
          }
        }
      }
    }
    return mean(nonZero);
  }

  @Test
  void tripletSwapWithRefMatchesPmlByDefaultAndUsesRefWithTheFix() {
    double[][] q = gaussian(4, 3, 11);
    double[][] r = gaussian(6, 3, 12);
    long[] ql = {0, 0, 1, 1};
    long[] rl = {0, 1, 0, 1, 2, 2}; // every positive index < 4: PML runs (on the wrong rows)
    double margin = 0.5;
    TripletMarginLoss pml = new TripletMarginLoss(margin, true, false, null, LossOptions.defaults());
    TripletMarginLoss fixed = pml.withSwapFromRef(true);
    assertFalse(pml.swapFromRef());
    assertTrue(fixed.swapFromRef() && fixed.swap() && fixed.margin() == margin);

    double got = pml.forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl)).item_double();
    // PML 2.8.1: pn = mat[p, n] = d(embeddings[p], ref_emb[n])
    double pmlExpected = tripletSwap(q, ql, r, rl, margin, (p, n) -> l2n(q[(int) p], r[(int) n]));
    assertEquals(pmlExpected, got, TOL);

    double gotFixed = fixed.forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl)).item_double();
    double fixedExpected = tripletSwap(q, ql, r, rl, margin, (p, n) -> l2n(r[(int) p], r[(int) n]));
    assertEquals(fixedExpected, gotFixed, TOL);
    assertNotEquals(pmlExpected, fixedExpected, 1e-6, "the data must tell the two apart");

    // a positive beyond the batch: PML raises an index error; here a clear exception, and the fix works
    long[] rl2 = {2, 2, 2, 2, 0, 1};
    String m = assertThrows(IllegalArgumentException.class,
        () -> pml.forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl2))).getMessage();
    assertTrue(m.contains("withSwapFromRef(true)"), m);
    double gotFixed2 = fixed.forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl2)).item_double();
    assertEquals(tripletSwap(q, ql, r, rl2, margin, (p, n) -> l2n(r[(int) p], r[(int) n])), gotFixed2, TOL);

    // without a reference set the two agree
    assertEquals(pml.forward(t(q), Tensors.longs(ql)).item_double(),
        fixed.forward(t(q), Tensors.longs(ql)).item_double(), TOL);
  }

  @Test
  void tripletSwapFromRefSpecKey() {
    TripletMarginLoss l = Registry.build("{\"class\":\"TripletMarginLoss\",\"params\":{\"swap\":true,"
        + "\"swap_from_ref\":true}}", TripletMarginLoss.class);
    assertTrue(l.swapFromRef());
    assertFalse(Registry.build("{\"class\":\"TripletMarginLoss\"}", TripletMarginLoss.class).swapFromRef());
  }

  // ------------------------------------------------------------------ ThresholdConsistentMarginLoss

  /** TCM from per-pair similarities. */
  private static double tcm(double[][] q, long[] ql, long[] rl, DoubleBinaryOperator sim, double lp, double lm,
      double mp, double mm) {
    List<Double> pos = new ArrayList<>();
    List<Double> neg = new ArrayList<>();
    for (int a = 0; a < q.length; a++) {
      for (int j = 0; j < rl.length; j++) {
        double s = sim.applyAsDouble(a, j);
        if (ql[a] == rl[j] && s <= mp) {
          pos.add(mp - s);
        } else if (ql[a] != rl[j] && s >= mm) {
          neg.add(s - mm);
        }
      }
    }
    assertFalse(pos.isEmpty() || neg.isEmpty(), "test data must have both parts");
    return lp * mean(pos) + lm * mean(neg);
  }

  @Test
  void thresholdConsistentMarginIgnoresRefByDefaultAndUsesRefAndDistanceWithTheFix() {
    double[][] q = gaussian(6, 3, 21);
    double[][] r = gaussian(5, 3, 22);
    long[] ql = {0, 0, 1, 1, 2, 2};
    long[] rl = {0, 1, 2, 0, 1}; // ref smaller than the batch: PML runs, on rows of embeddings
    double lp = 1.0;
    double lm = 0.7;
    double mp = 0.9;
    double mm = 0.0;
    ThresholdConsistentMarginLoss pml = new ThresholdConsistentMarginLoss(lp, lm, mp, mm, LossOptions.defaults());
    ThresholdConsistentMarginLoss fixed = pml.withRefEmb(true);
    assertTrue(fixed.useRefEmb() && !pml.useRefEmb());

    double got = pml.forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl)).item_double();
    assertEquals(tcm(q, ql, rl, (a, j) -> cos(q[(int) a], q[(int) j]), lp, lm, mp, mm), got, TOL);
    double gotFixed = fixed.forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl)).item_double();
    assertEquals(tcm(q, ql, rl, (a, j) -> cos(q[(int) a], r[(int) j]), lp, lm, mp, mm), gotFixed, TOL);
    assertNotEquals(got, gotFixed, 1e-6);

    // the configured distance: CosineSimilarity(power = 2) gives squared cosines with the fix, is ignored by PML
    LossOptions squared = LossOptions.defaults().withDistance(new CosineSimilarity(2, 2));
    ThresholdConsistentMarginLoss pmlSq = new ThresholdConsistentMarginLoss(lp, lm, mp, mm, squared);
    assertEquals(got, pmlSq.forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl)).item_double(), TOL);
    double gotSq = pmlSq.withRefEmb(true).forward(t(q), Tensors.longs(ql), null, t(r), Tensors.longs(rl))
        .item_double();
    assertEquals(tcm(q, ql, rl, (a, j) -> Math.pow(cos(q[(int) a], r[(int) j]), 2), lp, lm, mp, mm), gotSq, TOL);

    // a reference larger than the batch: PML raises an index error; a clear exception here, and the fix works
    double[][] big = gaussian(9, 3, 23);
    long[] bl = {0, 1, 2, 0, 1, 2, 0, 1, 2};
    String m = assertThrows(IllegalArgumentException.class,
        () -> pml.forward(t(q), Tensors.longs(ql), null, t(big), Tensors.longs(bl))).getMessage();
    assertTrue(m.contains("withRefEmb(true)"), m);
    assertEquals(tcm(q, ql, bl, (a, j) -> cos(q[(int) a], big[(int) j]), lp, lm, mp, mm),
        fixed.forward(t(q), Tensors.longs(ql), null, t(big), Tensors.longs(bl)).item_double(), TOL);

    // without a reference set the two agree
    assertEquals(pml.forward(t(q), Tensors.longs(ql)).item_double(),
        fixed.forward(t(q), Tensors.longs(ql)).item_double(), TOL);
    assertTrue(Registry.build("{\"class\":\"ThresholdConsistentMarginLoss\",\"params\":{\"use_ref_emb\":true}}",
        ThresholdConsistentMarginLoss.class).useRefEmb());
  }

  // ------------------------------------------------------------------ TupletMarginLoss

  private static double logOnePlusSumExp(List<Double> xs) {
    double max = 0;
    for (double x : xs) {
      max = Math.max(max, x);
    }
    double s = Math.exp(-max);
    for (double x : xs) {
      s += Math.exp(x - max);
    }
    return max + Math.log(s);
  }

  @Test
  void tupletAcosGivesNanByDefaultAndTheClampFixesIt() {
    double[] dup = {-1.7, 0.8, 1.2};
    double[][] q = {dup.clone(), dup.clone(), {0.3, -1.1, 0.4}, {-0.6, -0.9, 0.2}};
    long[] labels = {0, 0, 1, 1};
    Tensor e = t(q);
    double cos01 = Tensors.index2(new CosineSimilarity().forward(e, e), Tensors.longs(0), Tensors.longs(1))
        .item_double();
    assertTrue(cos01 > 1.0, "precondition: the normalized dot product of the duplicate rows rounds above 1: " + cos01);

    TupletMarginLoss pml = new TupletMarginLoss();
    assertTrue(Double.isNaN(pml.forward(e, Tensors.longs(labels)).item_double()), "PML 2.8.1: acos(1 + ulp) = NaN");

    TupletMarginLoss fixed = pml.withClampCosine(true);
    assertTrue(fixed.clampCosine() && !pml.clampCosine());
    double margin = Math.toRadians(5.73);
    double scale = 64;
    List<Double> losses = new ArrayList<>();
    for (int a = 0; a < 4; a++) {
      for (int p = 0; p < 4; p++) {
        if (a == p || labels[a] != labels[p]) {
          continue;
        }
        double c = Math.max(-1, Math.min(1, cos(q[a], q[p])));
        double pos = Math.cos(Math.acos(c) - margin);
        List<Double> inside = new ArrayList<>();
        for (int n = 0; n < 4; n++) {
          if (labels[n] != labels[a]) {
            inside.add(scale * (cos(q[a], q[n]) - pos));
          }
        }
        losses.add(logOnePlusSumExp(inside));
      }
    }
    Tensor g = e.clone().requires_grad_(true);
    Tensor loss = fixed.forward(g, Tensors.longs(labels));
    assertEquals(mean(losses), loss.item_double(), 1e-9);
    loss.backward();
    assertTrue(g.grad().isfinite().all().item_bool(), "finite gradient with the clamp");
    assertTrue(Registry.build("{\"class\":\"TupletMarginLoss\",\"params\":{\"clamp_cosine\":true}}",
        TupletMarginLoss.class).clampCosine());
  }

  // ------------------------------------------------------------------ SubCenterArcFaceLoss kwargs

  /** Per-sample SubCenterArcFace cross-entropy, straight from the formula. */
  private static double[] subCenterArcFace(double[][] x, long[] labels, double[][] w, int classes, int k,
      double marginDeg, double scale) {
    double m = Math.toRadians(marginDeg);
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      double[] logits = new double[classes];
      for (int c = 0; c < classes; c++) {
        double best = Double.NEGATIVE_INFINITY;
        for (int s = 0; s < k; s++) {
          double[] col = new double[w.length];
          for (int d = 0; d < w.length; d++) {
            col[d] = w[d][c * k + s];
          }
          best = Math.max(best, cos(x[i], col));
        }
        if (c == labels[i]) {
          double theta = Math.acos(Math.max(-1, Math.min(1, best)));
          best = theta <= Math.PI - m ? Math.cos(theta + m) : Math.cos(theta) - m * Math.sin(m);
        }
        logits[c] = scale * best;
      }
      double max = Double.NEGATIVE_INFINITY;
      for (double l : logits) {
        max = Math.max(max, l);
      }
      double s = 0;
      for (double l : logits) {
        s += Math.exp(l - max);
      }
      out[i] = max + Math.log(s) - logits[(int) labels[i]];
    }
    return out;
  }

  @Test
  void subCenterArcFaceIgnoresKwargsByDefaultAndHonoursThemOnRequest() {
    int classes = 3;
    int k = 2;
    int dim = 4;
    double[][] x = gaussian(5, dim, 31);
    long[] labels = {0, 1, 2, 1, 0};
    double[][] w = gaussian(dim, classes * k, 32);
    for (double[] row : w) { // W is a float32 parameter (as PML's): use float32 values so the copy is exact
      for (int j = 0; j < row.length; j++) {
        row[j] = (float) row[j];
      }
    }
    double[] perSample = subCenterArcFace(x, labels, w, classes, k, 28.6, 10);
    double meanLoss = 0;
    double sumLoss = 0;
    for (double v : perSample) {
      sumLoss += v;
      meanLoss += v / perSample.length;
    }
    LossOptions sum = LossOptions.defaults().withReducer(new SumReducer());

    SubCenterArcFaceLoss pml = new SubCenterArcFaceLoss(classes, dim, 28.6, 10, k, sum);
    SubCenterArcFaceLoss fixed = SubCenterArcFaceLoss.withOptions(classes, dim, 28.6, 10, k, sum);
    assertFalse(pml.honorsOptions());
    assertTrue(fixed.honorsOptions());
    for (SubCenterArcFaceLoss l : List.of(pml, fixed)) {
      l.setParameter("W", t(w));
    }
    assertEquals(meanLoss, pml.forward(t(x), Tensors.longs(labels)).item_double(), TOL, "PML 2.8.1: reducer ignored");
    assertEquals(sumLoss, fixed.forward(t(x), Tensors.longs(labels)).item_double(), TOL, "fixed: SumReducer used");

    String spec = "{\"class\":\"SubCenterArcFaceLoss\",\"params\":{\"num_classes\":3,\"embedding_size\":4,"
        + "\"sub_centers\":2,\"scale\":10,\"reducer\":{\"class\":\"SumReducer\"}%s}}";
    SubCenterArcFaceLoss fromSpec = Registry.build(String.format(spec, ""), SubCenterArcFaceLoss.class);
    SubCenterArcFaceLoss fromSpecFixed = Registry.build(String.format(spec, ",\"honor_kwargs\":true"),
        SubCenterArcFaceLoss.class);
    assertFalse(fromSpec.honorsOptions());
    assertTrue(fromSpecFixed.honorsOptions());
    fromSpec.setParameter("W", t(w));
    fromSpecFixed.setParameter("W", t(w));
    assertEquals(meanLoss, fromSpec.forward(t(x), Tensors.longs(labels)).item_double(), TOL);
    assertEquals(sumLoss, fromSpecFixed.forward(t(x), Tensors.longs(labels)).item_double(), TOL);
  }

  // ------------------------------------------------------------------ PerAnchorReducer with a larger reference

  /** ContrastiveLoss(0, 1) per anchor: mean_a(mean of its pos losses) + mean_a(mean of its neg losses). */
  private static double perAnchorContrastive(double[][] q, long[] ql, double[][] r, long[] rl) {
    double pos = 0;
    double neg = 0;
    for (int a = 0; a < q.length; a++) {
      List<Double> p = new ArrayList<>();
      List<Double> n = new ArrayList<>();
      for (int j = 0; j < r.length; j++) {
        double d = l2n(q[a], r[j]);
        if (ql[a] == rl[j]) {
          p.add(Math.max(0, d));
        } else {
          n.add(Math.max(0, 1 - d));
        }
      }
      pos += mean(p) / q.length;
      neg += mean(n) / q.length;
    }
    return pos + neg;
  }

  @Test
  void perAnchorReducerRejectsALargerReferenceByDefaultAndSizesByItWithTheFix() {
    double[][] q = gaussian(4, 3, 41);
    long[] ql = {0, 0, 1, 2};
    PerAnchorReducer pmlReducer = new PerAnchorReducer();
    PerAnchorReducer fixedReducer = pmlReducer.withSizeByRef(true);
    assertTrue(fixedReducer.sizeByRef() && !pmlReducer.sizeByRef());
    ContrastiveLoss pml = new ContrastiveLoss(0, 1, LossOptions.defaults().withReducer(pmlReducer));
    ContrastiveLoss fixed = new ContrastiveLoss(0, 1, LossOptions.defaults().withReducer(fixedReducer));

    // reference no larger than the batch: both are PML
    double[][] small = gaussian(3, 3, 42);
    long[] sl = {0, 1, 2};
    double expectedSmall = perAnchorContrastive(q, ql, small, sl);
    assertEquals(expectedSmall, pml.forward(t(q), Tensors.longs(ql), null, t(small), Tensors.longs(sl))
        .item_double(), TOL);
    assertEquals(expectedSmall, fixed.forward(t(q), Tensors.longs(ql), null, t(small), Tensors.longs(sl))
        .item_double(), TOL);

    // a larger reference: PML's N x N scatter fails; a clear exception here, and the fix averages over all pairs
    double[][] big = gaussian(7, 3, 43);
    long[] bl = {0, 1, 2, 0, 1, 2, 0};
    String m = assertThrows(IllegalArgumentException.class,
        () -> pml.forward(t(q), Tensors.longs(ql), null, t(big), Tensors.longs(bl))).getMessage();
    assertTrue(m.contains("withSizeByRef(true)"), m);
    assertEquals(perAnchorContrastive(q, ql, big, bl),
        fixed.forward(t(q), Tensors.longs(ql), null, t(big), Tensors.longs(bl)).item_double(), TOL);

    PerAnchorReducer fromSpec = Registry.build("{\"class\":\"PerAnchorReducer\",\"params\":{\"size_by_ref\":true}}",
        PerAnchorReducer.class);
    assertTrue(fromSpec.sizeByRef());
  }
}
