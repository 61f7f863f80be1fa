package org.pml4j.losses;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.distances.DotProductSimilarity;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.ThresholdReducer;
import org.pml4j.torch.Parallel;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * The fused dense {@link ContrastiveLoss} over all pairs: one pass over the {@code [N, M]} distance matrix (on
 * {@link Torch#kernelThreads()} Java threads) computes both reduced sub-losses and the gradient with respect to the
 * matrix, and the gradient reaches the embeddings through one GEMM instead of autograd over a dozen {@code [N, M]}
 * intermediates and cdist's backward (three GEMMs). For LpDistance the matrix is the GEMM of dot products, turned
 * into distances in the kernel with cdist's own formula for large inputs ({@code sqrt(max(|q|^2 + |r|^2 - 2 q.r,
 * 1e-30))}; it agrees with cdist to rounding), so that pass runs on the Java threads too.
 *
 * <p>For {@code LpDistance(p=2, power=1)} with {@code d_ij = ||q_i - r_j||}: {@code dL/dq_i = q_i sum_j W_ij -
 * sum_j W_ij r_j} with {@code W = G / d} ({@code G = dL/dd}, 0 where {@code d = 0}, as cdist's backward); for
 * {@code DotProductSimilarity}/{@code CosineSimilarity} with power 1, {@code dL/dq = G r}. {@code q}, {@code r} are
 * the (normalized) embeddings, whose normalization stays on the autograd graph. The returned loss is
 * {@code value + (sum(q * g) - sum(q.detach() * g))} with {@code g} the detached gradient: the value exactly, the
 * first-order gradient exactly (up to summation order); it has no second derivative (create_graph is not supported
 * on this path). Values per element replicate ATen's arithmetic in the tensor's dtype (margins, relu, the reducer's
 * thresholds); sums are accumulated in double.
 */
final class DenseContrastive {
  private DenseContrastive() {}

  /** Reduction of one sub-loss: 0 mean, 1 sum (Sum/Divisor), 2 threshold. */
  private record Red(int kind, Double low, Double high) {
    static Red of(BaseReducer r) {
      if (r instanceof ThresholdReducer t) {
        return new Red(2, t.low(), t.high());
      }
      return new Red(r.getClass() == MeanReducer.class ? 0 : 1, null, null);
    }
  }

  /** Whether the fused kernel handles this loss's distance and these inputs. */
  static boolean applies(ContrastiveLoss loss, Tensor embeddings, Tensor refEmb) {
    BaseDistance d = loss.distance();
    boolean lp2 = d.getClass() == LpDistance.class && d.p() == 2 && d.power() == 1;
    boolean dot = (d.getClass() == DotProductSimilarity.class || d.getClass() == CosineSimilarity.class)
        && d.power() == 1;
    ScalarType t = Tensors.dtype(embeddings);
    return (lp2 || dot) && (t == ScalarType.Float || t == ScalarType.Double) && Tensors.dtype(refEmb) == t
        && embeddings.is_cpu() && refEmb.is_cpu() && refEmb.size(0) > 0;
  }

  /** Per-chunk accumulators. */
  private static final class Acc {
    long cntPos;
    long cntNeg;
    long keptPos;
    long keptNeg;
    double sumPos;
    double sumNeg;
    double[] colP;
    double[] colN;
  }

  /**
   * The loss dict ({@code pos_loss}, {@code neg_loss}, each already reduced, or PML's zero entries) of all pairs.
   *
   * @param selfSlots reference column of query row i itself (dropped from the positives), or null
   */
  static LossDict forward(ContrastiveLoss loss, Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels,
      Tensor selfSlots) {
    BaseDistance distance = loss.distance();
    boolean inverted = distance.isInverted();
    boolean lp2 = !inverted;
    boolean sameRef = refEmb == embeddings;
    boolean diagonal = refLabels == labels;
    boolean needGrad = GradMode.is_enabled()
        && (embeddings.requires_grad() || (!sameRef && refEmb.requires_grad()));
    boolean refGrad = needGrad && (sameRef || refEmb.requires_grad());
    Tensor q = distance.maybeNormalize(embeddings);
    Tensor r = sameRef ? q : distance.maybeNormalize(refEmb);
    Tensor qd = q.detach();
    Tensor rd = r.detach();
    int n = (int) qd.size(0);
    int m = (int) rd.size(0);
    long[] lab = Tensors.toLongs(labels);
    long[] ref = Tensors.toLongs(refLabels);
    int[] self = new int[n];
    java.util.Arrays.fill(self, -1);
    if (selfSlots != null) {
      long[] s = Tensors.toLongs(selfSlots);
      for (int i = 0; i < n && i < s.length; i++) {
        self[i] = (int) s[i];
      }
    } else if (diagonal) {
      for (int i = 0; i < n; i++) {
        self[i] = i;
      }
    }
    java.util.Map<Long, int[]> byLabel = columnsByLabel(ref);
    double[] qn = null;
    double[] rn = null;
    if (lp2) {
      try (NoGradGuard g = new NoGradGuard()) {
        qn = Tensors.toDoubles(qd.pow(Tensors.s(2.0)).sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional()));
        rn = sameRef ? qn : Tensors.toDoubles(rd.pow(Tensors.s(2.0)).sum(new long[] {1}, false,
            new org.bytedeco.pytorch.ScalarTypeOptional()));
      }
    }
    double[] qNorm = qn;
    double[] rNorm = rn;
    boolean dbl = Tensors.dtype(qd) == ScalarType.Double;
    Tensor mat;
    Tensor w;
    try (NoGradGuard g = new NoGradGuard()) {
      // the matrices of LpDistance.computeMat (cdist) and DotProductSimilarity.computeMat, of the normalized inputs
      // the dot products; for LpDistance the kernel turns them into distances (cdist's mm formula, below)
      mat = qd.mm(rd.t()).contiguous();
      w = torch.empty_like(mat);
    }
    Red redPos = Red.of(loss.reducerFor("pos_loss"));
    Red redNeg = Red.of(loss.reducerFor("neg_loss"));
    double[] rowP = new double[n];
    double[] rowN = new double[n];
    int threads = Math.max(1, Torch.kernelThreads());
    Acc[] accs = new Acc[threads];
    double mp = loss.posMargin();
    double mn = loss.negMargin();
    int used = Parallel.forRows(n, threads, (chunk, from, to) -> {
      Acc a = new Acc();
      if (refGrad) {
        a.colP = new double[m];
        a.colN = new double[m];
      }
      accs[chunk] = a;
      if (dbl) {
        phase1Double(mat, w, qNorm, rNorm, from, to, m, lab, byLabel, self, inverted, lp2, mp, mn, redPos, redNeg, rowP, rowN, a);
      } else {
        phase1Float(mat, w, qNorm, rNorm, from, to, m, lab, byLabel, self, inverted, lp2, (float) mp, (float) mn, redPos, redNeg,
            rowP, rowN, a);
      }
    });
    Acc tot = new Acc();
    for (int c = 0; c < used; c++) {
      Acc a = accs[c];
      tot.cntPos += a.cntPos;
      tot.cntNeg += a.cntNeg;
      tot.keptPos += a.keptPos;
      tot.keptNeg += a.keptNeg;
      tot.sumPos += a.sumPos;
      tot.sumNeg += a.sumNeg;
    }
    if (tot.cntPos <= 1 && tot.cntNeg <= 1) {
      return loss.zeroLosses();
    }
    long nPos = redPos.kind == 2 ? tot.keptPos : tot.cntPos;
    long nNeg = redNeg.kind == 2 ? tot.keptNeg : tot.cntNeg;
    boolean zeroPos = tot.cntPos == 0 || nPos == 0;
    boolean zeroNeg = tot.cntNeg == 0 || nNeg == 0;
    double sPos = zeroPos ? 0 : redPos.kind == 1 ? 1 : 1.0 / nPos;
    double sNeg = zeroNeg ? 0 : redNeg.kind == 1 ? 1 : 1.0 / nNeg;
    Tensor surrogate = null;
    if (needGrad && !(zeroPos && zeroNeg)) {
      // W holds +-1/d (or +-1): the positive-sign entries are one sub-loss's, the negative-sign ones the other's.
      double sGt = inverted ? sNeg : sPos;
      double sLt = inverted ? sPos : sNeg;
      Parallel.forRows(n, threads, (chunk, from, to) -> scale(w, from, to, m, dbl, sGt, sLt));
      double[] rowSum = new double[n];
      for (int i = 0; i < n; i++) {
        rowSum[i] = rowP[i] * sPos + rowN[i] * sNeg;
      }
      Tensor gq;
      Tensor gr = null;
      Tensor c;
      try (NoGradGuard g = new NoGradGuard()) {
        if (lp2) {
          Tensor rs = Tensors.of(rowSum, Tensors.dtype(qd), n, 1);
          gq = torch.addmm(qd.mul(rs), w, rd, Tensors.s(1.0), Tensors.s(-1.0));
        } else {
          gq = w.mm(rd);
        }
        if (refGrad) {
          if (lp2) {
            double[] colSum = new double[m];
            for (int k = 0; k < used; k++) {
              for (int j = 0; j < m; j++) {
                colSum[j] += accs[k].colP[j] * sPos + accs[k].colN[j] * sNeg;
              }
            }
            Tensor cs = Tensors.of(colSum, Tensors.dtype(qd), m, 1);
            gr = torch.addmm(rd.mul(cs), w.t(), qd, Tensors.s(1.0), Tensors.s(-1.0));
          } else {
            gr = w.t().mm(qd);
          }
        }
        if (sameRef && gr != null) {
          gq = gq.add(gr);
          gr = null;
        }
        // the same sums as below, without the graph: the surrogate's value is exactly 0
        c = qd.mul(gq).sum();
        if (gr != null) {
          c = c.add(rd.mul(gr).sum());
        }
      }
      Tensor s = q.mul(gq).sum();
      if (gr != null) {
        s = s.add(r.mul(gr).sum());
      }
      surrogate = s.sub(c);
    }
    LossDict d = new LossDict();
    LossInfo pos = zeroPos ? LossInfo.zero() : LossInfo.reduced(Tensors.scalarLike(tot.sumPos * sPos, embeddings));
    LossInfo neg = zeroNeg ? LossInfo.zero() : LossInfo.reduced(Tensors.scalarLike(tot.sumNeg * sNeg, embeddings));
    if (surrogate != null) {
      if (!zeroPos) {
        pos = LossInfo.reduced(pos.losses().add(surrogate));
      } else {
        neg = LossInfo.reduced(neg.losses().add(surrogate));
      }
    }
    d.put("pos_loss", pos);
    d.put("neg_loss", neg);
    return d;
  }

  /** Reference columns per label value, ascending. */
  private static java.util.Map<Long, int[]> columnsByLabel(long[] ref) {
    java.util.Map<Long, Integer> counts = new java.util.HashMap<>();
    for (long r : ref) {
      counts.merge(r, 1, Integer::sum);
    }
    java.util.Map<Long, int[]> cols = new java.util.HashMap<>();
    java.util.Map<Long, Integer> fill = new java.util.HashMap<>();
    for (int j = 0; j < ref.length; j++) {
      long r = ref[j];
      int[] c = cols.computeIfAbsent(r, k -> new int[counts.get(k)]);
      c[fill.merge(r, 1, Integer::sum) - 1] = j;
    }
    return cols;
  }

  /** The reducer's open interval {@code (low, high)} of kept losses (mean/sum: every pair, as +-infinity). */
  private static double low(Red r) {
    return r.kind == 2 && r.low != null ? r.low : Double.NEGATIVE_INFINITY;
  }

  private static double high(Red r) {
    return r.kind == 2 && r.high != null ? r.high : Double.POSITIVE_INFINITY;
  }

  /**
   * Rows {@code [from, to)}: counts, kept sums and unscaled gradient weights (+-1/d, or +-1 for similarities;
   * positive-pair weights have sign {@code inverted ? -1 : +1}, negative-pair ones the opposite). A pair's loss is
   * {@code relu(v)} with {@code v = s * x + c} ({@code s = +-1}, {@code c} the negated margin: the same rounding as
   * ATen's {@code x - m} and {@code m - x}); it is kept when {@code low < relu(v) < high}, and its gradient is
   * nonzero when it is kept and {@code v > 0}. Each row is first treated as all negatives (a loop without label
   * tests; the columns of the row's own label, {@code byLabel}, sit it out as NaN), then those columns are scored as
   * positives (except the row's self column).
   */
  private static void phase1Float(Tensor mat, Tensor w, double[] qNorm, double[] rNorm, int from, int to, int m, long[] lab, java.util.Map<Long, int[]> byLabel,
      int[] self, boolean inverted, boolean lp2, float mp, float mn, Red redPos, Red redNeg, double[] rowP, double[] rowN,
      Acc a) {
    FloatPointer dp = mat.data_ptr_float();
    FloatPointer wp = w.data_ptr_float();
    float[] dRow = new float[m];
    float[] wRow = new float[m];
    float signPos = inverted ? -1f : 1f;
    float signNeg = -signPos;
    float cPos = inverted ? mp : -mp;
    float cNeg = inverted ? -mn : mn;
    float lowP = (float) low(redPos);
    float highP = (float) high(redPos);
    float lowN = (float) low(redNeg);
    float highN = (float) high(redNeg);
    long cntPos = 0;
    long cntNeg = 0;
    long keptPos = 0;
    long keptNeg = 0;
    double sumPos = 0;
    double sumNeg = 0;
    double[] colP = a.colP;
    double[] colN = a.colN;
    int[] none = new int[0];
    for (int i = from; i < to; i++) {
      dp.position((long) i * m).get(dRow, 0, m);
      int si = self[i];
      double rp = 0;
      double rn = 0;
      double sp = 0;
      double sn = 0;
      long kn = 0;
      if (qNorm != null) {
        // cdist's mm formula: sqrt(max(|q|^2 + |r|^2 - 2 q.r, 1e-30)), then the row holds distances
        float qi = (float) qNorm[i];
        for (int j = 0; j < m; j++) {
          float d2 = qi + (float) rNorm[j] - 2f * dRow[j];
          dRow[j] = (float) Math.sqrt(d2 > 1e-30f ? d2 : 1e-30f);
        }
      }
      // The row's own label's columns sit out the negatives' loop as NaN (loss 0, weight 0, no label test);
      // their distances are kept aside for the positives' loop.
      int[] same = byLabel.getOrDefault(lab[i], none);
      float[] sameX = new float[same.length];
      for (int k = 0; k < same.length; k++) {
        sameX[k] = dRow[same[k]];
        dRow[same[k]] = Float.NaN;
      }
      for (int j = 0; j < m; j++) {
        float x = dRow[j];
        float v = signNeg * x + cNeg;
        float l = v > 0f ? v : 0f;
        float wij = 0;
        if (l > lowN && l < highN) {
          kn++;
          sn += l;
          if (v > 0) {
            wij = lp2 ? (x == 0f ? 0f : signNeg / x) : signNeg;
            rn += wij;
          }
        }
        wRow[j] = wij;
      }
      if (colN != null) {
        for (int j = 0; j < m; j++) {
          colN[j] += wRow[j];
        }
      }
      long cn = m - same.length;
      if (0 > lowN && 0 < highN) {
        kn -= same.length; // the NaN columns counted as kept zero losses
      }
      for (int k = 0; k < same.length; k++) {
        int j = same[k];
        float x = sameX[k];
        float wij = 0;
        if (j != si) {
          cntPos++;
          float v = signPos * x + cPos;
          float l = v > 0f ? v : 0f;
          if (l > lowP && l < highP) {
            keptPos++;
            sp += l;
            if (v > 0) {
              wij = lp2 ? (x == 0f ? 0f : signPos / x) : signPos;
              rp += wij;
              if (colP != null) {
                colP[j] += wij;
              }
            }
          }
        }
        wRow[j] = wij;
      }
      cntNeg += cn;
      keptNeg += kn;
      sumPos += sp;
      sumNeg += sn;
      rowP[i] = rp;
      rowN[i] = rn;
      wp.position((long) i * m).put(wRow, 0, m);
    }
    a.cntPos = cntPos;
    a.cntNeg = cntNeg;
    a.keptPos = keptPos;
    a.keptNeg = keptNeg;
    a.sumPos = sumPos;
    a.sumNeg = sumNeg;
  }

  /** {@link #phase1Float} for float64. */
  private static void phase1Double(Tensor mat, Tensor w, double[] qNorm, double[] rNorm, int from, int to, int m, long[] lab, java.util.Map<Long, int[]> byLabel,
      int[] self, boolean inverted, boolean lp2, double mp, double mn, Red redPos, Red redNeg, double[] rowP, double[] rowN,
      Acc a) {
    DoublePointer dp = mat.data_ptr_double();
    DoublePointer wp = w.data_ptr_double();
    double[] dRow = new double[m];
    double[] wRow = new double[m];
    double signPos = inverted ? -1 : 1;
    double signNeg = -signPos;
    double cPos = inverted ? mp : -mp;
    double cNeg = inverted ? -mn : mn;
    double lowP = (double) low(redPos);
    double highP = (double) high(redPos);
    double lowN = (double) low(redNeg);
    double highN = (double) high(redNeg);
    long cntPos = 0;
    long cntNeg = 0;
    long keptPos = 0;
    long keptNeg = 0;
    double sumPos = 0;
    double sumNeg = 0;
    double[] colP = a.colP;
    double[] colN = a.colN;
    int[] none = new int[0];
    for (int i = from; i < to; i++) {
      dp.position((long) i * m).get(dRow, 0, m);
      int si = self[i];
      double rp = 0;
      double rn = 0;
      double sp = 0;
      double sn = 0;
      long kn = 0;
      if (qNorm != null) {
        double qi = qNorm[i];
        for (int j = 0; j < m; j++) {
          double d2 = qi + rNorm[j] - 2 * dRow[j];
          dRow[j] = Math.sqrt(d2 > 1e-30 ? d2 : 1e-30);
        }
      }
      // The row's own label's columns sit out the negatives' loop as NaN (loss 0, weight 0, no label test);
      // their distances are kept aside for the positives' loop.
      int[] same = byLabel.getOrDefault(lab[i], none);
      double[] sameX = new double[same.length];
      for (int k = 0; k < same.length; k++) {
        sameX[k] = dRow[same[k]];
        dRow[same[k]] = Double.NaN;
      }
      for (int j = 0; j < m; j++) {
        double x = dRow[j];
        double v = signNeg * x + cNeg;
        double l = v > 0 ? v : 0;
        double wij = 0;
        if (l > lowN && l < highN) {
          kn++;
          sn += l;
          if (v > 0) {
            wij = lp2 ? (x == 0 ? 0 : signNeg / x) : signNeg;
            rn += wij;
          }
        }
        wRow[j] = wij;
      }
      if (colN != null) {
        for (int j = 0; j < m; j++) {
          colN[j] += wRow[j];
        }
      }
      long cn = m - same.length;
      if (0 > lowN && 0 < highN) {
        kn -= same.length; // the NaN columns counted as kept zero losses
      }
      for (int k = 0; k < same.length; k++) {
        int j = same[k];
        double x = sameX[k];
        double wij = 0;
        if (j != si) {
          cntPos++;
          double v = signPos * x + cPos;
          double l = v > 0 ? v : 0;
          if (l > lowP && l < highP) {
            keptPos++;
            sp += l;
            if (v > 0) {
              wij = lp2 ? (x == 0 ? 0 : signPos / x) : signPos;
              rp += wij;
              if (colP != null) {
                colP[j] += wij;
              }
            }
          }
        }
        wRow[j] = wij;
      }
      cntNeg += cn;
      keptNeg += kn;
      sumPos += sp;
      sumNeg += sn;
      rowP[i] = rp;
      rowN[i] = rn;
      wp.position((long) i * m).put(wRow, 0, m);
    }
    a.cntPos = cntPos;
    a.cntNeg = cntNeg;
    a.keptPos = keptPos;
    a.keptNeg = keptNeg;
    a.sumPos = sumPos;
    a.sumNeg = sumNeg;
  }

  /**
   * Rows {@code [from, to)} of W: positive entries times {@code sGt}, negative ones times {@code sLt}, as
   * {@code v * sLt + max(v, 0) * (sGt - sLt)} (no branch, so the JIT vectorizes it).
   */
  private static void scale(Tensor w, int from, int to, int m, boolean dbl, double sGt, double sLt) {
    if (dbl) {
      double dGt = sGt - sLt;
      DoublePointer wp = w.data_ptr_double();
      double[] row = new double[m];
      for (int i = from; i < to; i++) {
        wp.position((long) i * m).get(row, 0, m);
        for (int j = 0; j < m; j++) {
          double v = row[j];
          row[j] = v * sLt + Math.max(v, 0) * dGt;
        }
        wp.position((long) i * m).put(row, 0, m);
      }
    } else {
      FloatPointer wp = w.data_ptr_float();
      float lt = (float) sLt;
      float dgt = (float) (sGt - sLt);
      float[] row = new float[m];
      for (int i = from; i < to; i++) {
        wp.position((long) i * m).get(row, 0, m);
        for (int j = 0; j < m; j++) {
          float v = row[j];
          row[j] = v * lt + Math.max(v, 0f) * dgt;
        }
        wp.position((long) i * m).put(row, 0, m);
      }
    }
  }
}
