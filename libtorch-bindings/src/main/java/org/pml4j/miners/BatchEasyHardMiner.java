package org.pml4j.miners;

import java.util.Arrays;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code BatchEasyHardMiner}: per anchor, one positive and one negative chosen by a strategy, returned as pairs
 * {@code (a, p, a, n)}.
 *
 * <ul>
 *   <li>{@link Strategy#HARD}: the farthest positive / the closest negative;
 *   <li>{@link Strategy#EASY}: the closest positive / the farthest negative;
 *   <li>{@link Strategy#SEMIHARD}: like hard, but only among positives closer than the chosen negative (or negatives
 *       farther than the chosen positive);
 *   <li>{@link Strategy#ALL}: every positive (or negative) pair.
 * </ul>
 *
 * "Closer" and "farther" follow the distance (flipped for similarities). {@code allowedPosRange} and
 * {@code allowedNegRange} ({@code [lo, hi]}, inclusive, on the raw matrix values) restrict the candidates. Anchors
 * without a valid positive or negative are dropped (jointly when neither strategy is {@code ALL}). Both semihard, or
 * semihard with all, are rejected as in PML.
 */
public class BatchEasyHardMiner extends BaseMiner {

  /** A mining strategy, named as in PML. */
  public enum Strategy {
    HARD("hard"),
    SEMIHARD("semihard"),
    EASY("easy"),
    ALL("all");

    private final String pmlName;

    Strategy(String pmlName) {
      this.pmlName = pmlName;
    }

    /** PML's name of the strategy. */
    public String pmlName() {
      return pmlName;
    }

    /**
     * The strategy of a PML name.
     *
     * @throws IllegalArgumentException with PML's message for an unknown name
     */
    public static Strategy parse(String name) {
      for (Strategy s : values()) {
        if (s.pmlName.equals(name)) {
          return s;
        }
      }
      throw new IllegalArgumentException(invalidStrategyMessage());
    }
  }

  private final Strategy posStrategy;
  private final Strategy negStrategy;
  private final double[] allowedPosRange;
  private final double[] allowedNegRange;

  /** PML's default {@code pos_strategy}. */
  public static final Strategy DEFAULT_POS_STRATEGY = Strategy.EASY;
  /** PML's default {@code neg_strategy}. */
  public static final Strategy DEFAULT_NEG_STRATEGY = Strategy.SEMIHARD;

  /** PML's defaults: {@link #DEFAULT_POS_STRATEGY}, {@link #DEFAULT_NEG_STRATEGY}, no ranges, LpDistance. */
  public BatchEasyHardMiner() {
    this(DEFAULT_POS_STRATEGY, DEFAULT_NEG_STRATEGY, null, null, null);
  }

  /** The given strategies, no ranges, LpDistance. */
  public BatchEasyHardMiner(Strategy posStrategy, Strategy negStrategy) {
    this(posStrategy, negStrategy, null, null, null);
  }

  /**
   * @param posStrategy how the positive of each anchor is chosen
   * @param negStrategy how the negative of each anchor is chosen
   * @param allowedPosRange {@code [lo, hi]} of allowed positive-pair values, or null for no limit
   * @param allowedNegRange {@code [lo, hi]} of allowed negative-pair values, or null for no limit
   * @param distance null for the default LpDistance
   * @throws IllegalArgumentException for both strategies semihard, semihard combined with all, or a range that is
   *     not two numbers
   */
  public BatchEasyHardMiner(Strategy posStrategy, Strategy negStrategy, double[] allowedPosRange,
      double[] allowedNegRange, BaseDistance distance) {
    super(distance);
    if (posStrategy == null || negStrategy == null) {
      throw new IllegalArgumentException(invalidStrategyMessage());
    }
    if (posStrategy == Strategy.SEMIHARD && negStrategy == Strategy.SEMIHARD) {
      throw new IllegalArgumentException("pos_strategy and neg_strategy cannot both be \"semihard\"");
    }
    if ((posStrategy == Strategy.ALL && negStrategy == Strategy.SEMIHARD)
        || (negStrategy == Strategy.ALL && posStrategy == Strategy.SEMIHARD)) {
      throw new IllegalArgumentException("\"semihard\" cannot be used in combination with \"all\"");
    }
    this.posStrategy = posStrategy;
    this.negStrategy = negStrategy;
    this.allowedPosRange = checkRange("allowed_pos_range", allowedPosRange);
    this.allowedNegRange = checkRange("allowed_neg_range", allowedNegRange);
  }

  private static double[] checkRange(String name, double[] range) {
    if (range == null) {
      return null;
    }
    if (range.length != 2) {
      throw new IllegalArgumentException(name + " must be (min, max), got " + Arrays.toString(range));
    }
    return range.clone();
  }

  static String invalidStrategyMessage() {
    String all = "hard\" or \"semihard\" or \"easy\" or \"all";
    return "\npos_strategy must be one of \"" + all + "\"\nneg_strategy must be one of \"" + all + "\"";
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    return minePairs(embeddings, labels, refEmb, refLabels);
  }

  /** The mined pairs {@code (a1, p, a2, n)}. */
  protected final IndicesTuple minePairs(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    if (refEmb.size(0) == 0 && (posStrategy != Strategy.ALL || negStrategy != Strategy.ALL)) {
      // PML takes a min/max over each row of the (batch x reference) matrix: "Expected reduction dim 1 to have
      // non-zero size" for an empty reference. An empty batch against a non-empty reference mines nothing.
      throw new IllegalArgumentException(getClass().getSimpleName() + " needs at least one reference embedding (the "
          + "batch itself when ref_emb is not given), got "
          + (refEmb == embeddings ? "an empty batch" : "an empty ref_emb")
          + " (PML fails too: its per-row max/min has nothing to reduce)");
    }
    Tensor mat = distance.forward(embeddings, refEmb);
    IndicesTuple all = Lmu.allPairsIndices(labels, refLabels);
    Tensor a1Idx = all.get(0);
    Tensor pIdx = all.get(1);
    Tensor a2Idx = all.get(2);
    Tensor nIdx = all.get(3);
    Tensor a = Tensors.arange(mat.size(0), mat);

    // Each result: {values, indices, rowHasCandidate}.
    Tensor[] pos = null;
    Tensor[] neg = null;
    if (posStrategy == Strategy.SEMIHARD && negStrategy != Strategy.ALL) {
      neg = negatives(mat, a2Idx, nIdx, null);
      pos = positives(mat, a1Idx, pIdx, neg[0]);
    } else if (negStrategy == Strategy.SEMIHARD && posStrategy != Strategy.ALL) {
      pos = positives(mat, a1Idx, pIdx, null);
      neg = negatives(mat, a2Idx, nIdx, pos[0]);
    } else {
      if (posStrategy != Strategy.ALL) {
        pos = positives(mat, a1Idx, pIdx, null);
      }
      if (negStrategy != Strategy.ALL) {
        neg = negatives(mat, a2Idx, nIdx, null);
      }
    }

    if (pos != null && neg != null) {
      Tensor keep = Tensors.where(pos[2].logical_and(neg[2]))[0];
      Tensor ak = Tensors.index(a, keep);
      return IndicesTuple.pairs(ak, Tensors.index(pos[1], keep), ak, Tensors.index(neg[1], keep));
    }
    if (neg != null) {
      return IndicesTuple.pairs(a1Idx, pIdx, Tensors.index(a, neg[2]), Tensors.index(neg[1], neg[2]));
    }
    if (pos != null) {
      return IndicesTuple.pairs(Tensors.index(a, pos[2]), Tensors.index(pos[1], pos[2]), a2Idx, nIdx);
    }
    return all;
  }

  private Tensor[] positives(Tensor mat, Tensor a1Idx, Tensor pIdx, Tensor negativeDists) {
    return xPerRow(useMin(posStrategy), mat, a1Idx, pIdx, allowedPosRange, negativeDists);
  }

  private Tensor[] negatives(Tensor mat, Tensor a2Idx, Tensor nIdx, Tensor positiveDists) {
    // PML: hard/semihard negatives use the "easy" selection function (closest), easy negatives the "hard" one.
    Strategy s = negStrategy == Strategy.HARD || negStrategy == Strategy.SEMIHARD ? Strategy.EASY : Strategy.HARD;
    return xPerRow(useMin(s), mat, a2Idx, nIdx, allowedNegRange, positiveDists);
  }

  /** Hard/semihard take the row maximum of a distance (minimum of a similarity); easy the opposite. */
  private boolean useMin(Strategy s) {
    boolean hardish = s == Strategy.HARD || s == Strategy.SEMIHARD;
    return hardish == distance.isInverted();
  }

  /**
   * PML's {@code get_x_per_row}: the row-wise min (or max) over the candidate entries {@code (anchorIdx, otherIdx)},
   * optionally restricted to values strictly beyond {@code thresholds} (semihard) and inside {@code range}. Returns
   * {@code {values, indices, rowHasCandidate}}; rows without candidates hold the sentinel value.
   */
  private static Tensor[] xPerRow(boolean min, Tensor mat, Tensor anchorIdx, Tensor otherIdx, double[] range,
      Tensor thresholds) {
    double inf = min ? Tensors.posInf(Tensors.dtype(mat)) : Tensors.negInf(Tensors.dtype(mat));
    Tensor mask = Tensors.zeros(mat, mat.size(0), mat.size(1)).fill_(Tensors.s(inf));
    Tensors.put2(mask, anchorIdx, otherIdx, 1.0);
    if (thresholds != null) {
      Tensor t = thresholds.unsqueeze(1);
      Tensor condition = min ? mat.le(t) : mat.ge(t);
      mask.masked_fill_(condition, Tensors.s(inf));
    }
    if (range != null) {
      mask.masked_fill_(mat.gt(Tensors.s(range[1])).logical_or(mat.lt(Tensors.s(range[0]))), Tensors.s(inf));
    }
    Tensor isInf = mask.eq(Tensors.s(inf));
    Tensor rowHasCandidate = isInf.logical_not().any(1);
    Tensor m = mat.masked_fill(isInf, Tensors.s(inf));
    T_TensorTensor_T r = min ? m.min(1, false) : m.max(1, false);
    return new Tensor[] {r.get0(), r.get1(), rowHasCandidate};
  }

  public Strategy posStrategy() {
    return posStrategy;
  }

  public Strategy negStrategy() {
    return negStrategy;
  }

  /** {@code [lo, hi]} or null. */
  public double[] allowedPosRange() {
    return allowedPosRange == null ? null : allowedPosRange.clone();
  }

  /** {@code [lo, hi]} or null. */
  public double[] allowedNegRange() {
    return allowedNegRange == null ? null : allowedNegRange.clone();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(pos_strategy=" + posStrategy.pmlName() + ", neg_strategy="
        + negStrategy.pmlName() + ", allowed_pos_range=" + Arrays.toString(allowedPosRange) + ", allowed_neg_range="
        + Arrays.toString(allowedNegRange) + ", distance=" + distance + ")";
  }

  /**
   * Registry factory: {@code pos_strategy}, {@code neg_strategy} (PML names), {@code allowed_pos_range},
   * {@code allowed_neg_range} (2-element lists), {@code distance}, {@code collect_stats}.
   */
  public static BatchEasyHardMiner fromSpec(Params p) {
    Strategy pos = Strategy.parse(p.getString("pos_strategy", DEFAULT_POS_STRATEGY.pmlName()));
    Strategy neg = Strategy.parse(p.getString("neg_strategy", DEFAULT_NEG_STRATEGY.pmlName()));
    double[] posRange = p.getDoubleArray("allowed_pos_range");
    double[] negRange = p.getDoubleArray("allowed_neg_range");
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new BatchEasyHardMiner(pos, neg, posRange, negRange, d);
  }
}
