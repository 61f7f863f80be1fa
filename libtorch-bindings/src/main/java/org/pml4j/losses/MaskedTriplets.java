package org.pml4j.losses;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.reducers.AvgNonZeroReducer;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.SumReducer;
import org.pml4j.reducers.ThresholdReducer;
import org.pml4j.torch.Parallel;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * {@link TripletMarginLoss} (hinge, no swap) over every triplet {@code (a, p, n)} with {@code pos[a, p]} and
 * {@code neg[a, n]} of two bool pair masks, reduced, without materialising the triplets. This is what PML computes
 * from a miner's pairs ({@code convert_to_triplets}: every positive pair combined with every negative pair of the same
 * anchor) or from the labels ({@code get_all_triplets_indices}), but PML builds three int64 index tensors with one
 * entry per triplet, gathers the distances and scatters their gradients back
 * with a serial {@code index_put_(accumulate=True)}: that was most of a {@code triplet_ms} step, on one core however
 * many were given.
 *
 * <p>Both distances of a triplet lie in the anchor's row of the {@code [N, M]} matrix, so each row is independent:
 * rows run on {@link Torch#kernelThreads()} Java threads ({@link Parallel}). Per triplet the violation is computed in
 * the matrix's dtype exactly as ATen does ({@code margin(d_ap, d_an) + margin}, then relu and the reducer's
 * comparison against its thresholds cast to that dtype), so the same triplets pass; the kept losses are summed in
 * double, row by row and then over rows in order (independent of the thread count). The gradient with respect to the
 * matrix is a count per entry (how many kept, violating triplets use it) over the reducer's divisor, attached as
 * {@code value + (sum(mat * g) - sum(mat.detach() * g))}: the value exactly, the first derivative exactly (up to
 * summation order), no second derivative (create_graph is not supported on this path).
 *
 * <p>Reducers: {@link AvgNonZeroReducer} (the loss's default), {@link ThresholdReducer}, {@link MeanReducer},
 * {@link SumReducer}. A matrix with a non-finite entry (an overflowing distance) is left to the indexed path, so NaN
 * and infinity propagate exactly as PML's.
 */
final class MaskedTriplets {
  private MaskedTriplets() {}

  private static final int THRESHOLD = 0;
  private static final int MEAN = 1;
  private static final int SUM = 2;

  /** Whether this kernel reduces as {@code r} does (its triplet reduction depends only on the loss values). */
  static boolean supports(BaseReducer r) {
    Class<?> c = r.getClass();
    return c == AvgNonZeroReducer.class || c == ThresholdReducer.class || c == MeanReducer.class
        || c == SumReducer.class;
  }

  /**
   * The reduced loss of every masked triplet.
   *
   * @param mat {@code [N, M]} distances (or similarities when {@code inverted}), on the CPU
   * @param posMask bool {@code [N, M]}: the positive pairs
   * @param negMask bool {@code [N, M]}: the negative pairs
   * @return {@link LossInfo#zero()} when there is no triplet or none passes the reducer's threshold (PML's zero loss),
   *     the already-reduced loss otherwise; null when {@code mat} has a non-finite entry (the caller takes the
   *     indexed path)
   */
  static LossInfo reduce(Tensor mat, Tensor posMask, Tensor negMask, double margin, boolean inverted,
      BaseReducer reducer) {
    int n = (int) mat.size(0);
    int m = (int) mat.size(1);
    boolean dbl = Tensors.dtype(mat) == ScalarType.Double;
    double[] d = dbl ? Tensors.toDoubles(mat) : null;
    float[] f = dbl ? null : Tensors.toFloats(mat);
    for (int i = 0; i < n * m; i++) {
      if (!Double.isFinite(dbl ? d[i] : f[i])) {
        return null;
      }
    }
    boolean[] pos = Tensors.toBools(posMask);
    boolean[] neg = Tensors.toBools(negMask);
    Rule rule = new Rule(reducer, margin, inverted);
    double[] grad = new double[n * m];
    long[] rowTriplets = new long[n];
    long[] rowKept = new long[n];
    double[] rowSum = new double[n];
    Parallel.forRows(n, Math.max(1, Torch.kernelThreads()), (chunk, from, to) -> {
      int[] ps = new int[m];
      int[] ns = new int[m];
      long[] perNeg = new long[m];
      for (int a = from; a < to; a++) {
        int np = 0;
        int nn = 0;
        for (int j = 0; j < m; j++) {
          if (pos[a * m + j]) {
            ps[np++] = j;
          }
          if (neg[a * m + j]) {
            ns[nn++] = j;
          }
        }
        rowTriplets[a] = (long) np * nn;
        if (np == 0 || nn == 0) {
          continue;
        }
        if (dbl) {
          rowDouble(rule, d, a * m, ps, np, ns, nn, perNeg, grad, rowKept, rowSum, a);
        } else {
          rowFloat(rule, f, a * m, ps, np, ns, nn, perNeg, grad, rowKept, rowSum, a);
        }
      }
    });
    long triplets = 0;
    long kept = 0;
    double sum = 0;
    for (int a = 0; a < n; a++) {
      triplets += rowTriplets[a];
      kept += rowKept[a];
      sum += rowSum[a];
    }
    if (triplets == 0 || (rule.kind == THRESHOLD && kept == 0)) {
      return LossInfo.zero();
    }
    double divisor = rule.kind == THRESHOLD ? kept : rule.kind == MEAN ? triplets : 1;
    Tensor loss = Tensors.scalarLike(sum / divisor, mat);
    if (mat.requires_grad()) {
      for (int i = 0; i < grad.length; i++) {
        grad[i] /= divisor;
      }
      Tensor g = Tensors.of(grad, Tensors.dtype(mat), n, m);
      Tensor c;
      try (NoGradGuard ng = new NoGradGuard()) {
        c = mat.detach().mul(g).sum(); // the same sum as below, without the graph: the surrogate's value is exactly 0
      }
      loss = loss.add(mat.mul(g).sum().sub(c));
    }
    return LossInfo.reduced(loss);
  }

  /**
   * The reducer's rule and the violation's signs: {@code v = margin(x, y) + margin} with {@code x = d_ap},
   * {@code y = d_an}; {@code dv/dx = sx}, {@code dv/dy = -sx}.
   */
  private static final class Rule {
    final int kind;
    final Double low;
    final Double high;
    final double margin;
    final boolean inverted;
    final double sx;

    Rule(BaseReducer r, double margin, boolean inverted) {
      if (r instanceof ThresholdReducer t) {
        kind = THRESHOLD;
        low = t.low();
        high = t.high();
      } else {
        kind = r.getClass() == MeanReducer.class ? MEAN : SUM;
        low = null;
        high = null;
      }
      this.margin = margin;
      this.inverted = inverted;
      this.sx = inverted ? -1 : 1;
    }
  }

  // The two row kernels are one computation in float and in double: the violation must be rounded as ATen rounds it
  // in the matrix's dtype, so the same triplets pass the threshold as in PML.

  private static void rowFloat(Rule r, float[] v, int row, int[] ps, int np, int[] ns, int nn, long[] perNeg,
      double[] grad, long[] rowKept, double[] rowSum, int a) {
    float margin = (float) r.margin;
    boolean hasLow = r.low != null;
    boolean hasHigh = r.high != null;
    float low = hasLow ? r.low.floatValue() : 0f;
    float high = hasHigh ? r.high.floatValue() : 0f;
    boolean threshold = r.kind == THRESHOLD;
    java.util.Arrays.fill(perNeg, 0, nn, 0);
    long kept = 0;
    double sum = 0;
    for (int i = 0; i < np; i++) {
      float x = v[row + ps[i]];
      long perPos = 0;
      for (int k = 0; k < nn; k++) {
        float y = v[row + ns[k]];
        float viol = (r.inverted ? y - x : x - y) + margin;
        float loss = viol > 0 ? viol : 0f;
        if (!threshold || ((!hasLow || loss > low) && (!hasHigh || loss < high))) {
          kept++;
          sum += loss;
          if (loss > 0) {
            perPos++;
            perNeg[k]++;
          }
        }
      }
      grad[row + ps[i]] += r.sx * perPos;
    }
    for (int k = 0; k < nn; k++) {
      grad[row + ns[k]] -= r.sx * perNeg[k];
    }
    rowKept[a] = kept;
    rowSum[a] = sum;
  }

  private static void rowDouble(Rule r, double[] v, int row, int[] ps, int np, int[] ns, int nn, long[] perNeg,
      double[] grad, long[] rowKept, double[] rowSum, int a) {
    double margin = r.margin;
    boolean hasLow = r.low != null;
    boolean hasHigh = r.high != null;
    double low = hasLow ? r.low : 0;
    double high = hasHigh ? r.high : 0;
    boolean threshold = r.kind == THRESHOLD;
    java.util.Arrays.fill(perNeg, 0, nn, 0);
    long kept = 0;
    double sum = 0;
    for (int i = 0; i < np; i++) {
      double x = v[row + ps[i]];
      long perPos = 0;
      for (int k = 0; k < nn; k++) {
        double y = v[row + ns[k]];
        double viol = (r.inverted ? y - x : x - y) + margin;
        double loss = viol > 0 ? viol : 0;
        if (!threshold || ((!hasLow || loss > low) && (!hasHigh || loss < high))) {
          kept++;
          sum += loss;
          if (loss > 0) {
            perPos++;
            perNeg[k]++;
          }
        }
      }
      grad[row + ps[i]] += r.sx * perPos;
    }
    for (int k = 0; k < nn; k++) {
      grad[row + ns[k]] -= r.sx * perNeg[k];
    }
    rowKept[a] = kept;
    rowSum[a] = sum;
  }
}
