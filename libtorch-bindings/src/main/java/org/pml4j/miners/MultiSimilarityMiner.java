package org.pml4j.miners;

import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code MultiSimilarityMiner}: keeps a positive pair when it is less similar than the anchor's most similar
 * negative plus {@code epsilon} ({@code s_ap - ε < max_n s_an}), and a negative pair when it is more similar than the
 * anchor's least similar positive minus {@code epsilon} ({@code s_an + ε > min_p s_ap}); mirrored for distances.
 * Self-comparisons are ignored when the reference is the batch itself. Default distance: {@link CosineSimilarity}.
 */
public class MultiSimilarityMiner extends BaseMiner {
  private final double epsilon;

  /** PML's default {@code epsilon}. */
  public static final double DEFAULT_EPSILON = 0.1;

  /** PML's defaults: {@link #DEFAULT_EPSILON}, CosineSimilarity. */
  public MultiSimilarityMiner() {
    this(DEFAULT_EPSILON, null);
  }

  /**
   * @param epsilon the slack of both comparisons
   * @param distance null for the default CosineSimilarity
   */
  public MultiSimilarityMiner(double epsilon, BaseDistance distance) {
    super(distance);
    this.epsilon = epsilon;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    Tensor mat = distance.forward(embeddings, refEmb);
    // PML indexes every positive and every negative pair (get_all_pairs_indices) and writes the ignore values through
    // those indices; masked_fill with the same pair masks writes the same values without materialising the O(B^2)
    // index tensors.
    Tensor[] md = Lmu.matchesAndDiffs(labels, refLabels);
    Tensor positives = md[0].to(ScalarType.Bool);
    Tensor negatives = md[1].to(ScalarType.Bool);
    if (!positives.any().item_bool() || !negatives.any().item_bool()) {
      Tensor e = empty(labels);
      return IndicesTuple.pairs(e, e.clone(), e.clone(), e.clone());
    }
    boolean inverted = distance.isInverted();
    double posIgnore = inverted ? Tensors.posInf(Tensors.dtype(mat)) : Tensors.negInf(Tensors.dtype(mat));
    double negIgnore = inverted ? Tensors.negInf(Tensors.dtype(mat)) : Tensors.posInf(Tensors.dtype(mat));
    Tensor matPosSorting = mat.masked_fill(negatives, Tensors.s(posIgnore));
    Tensor matNegSorting = mat.masked_fill(positives, Tensors.s(negIgnore));
    if (embeddings == refEmb) {
      matPosSorting.fill_diagonal_(Tensors.s(posIgnore));
      matNegSorting.fill_diagonal_(Tensors.s(negIgnore));
    }
    // PML sorts both matrices row by row and keeps a prefix (positives) and a suffix (negatives) of each sorted row.
    // The kept entries are those that pass the same comparison against the same per-row threshold, which is the
    // row's extreme as the sort orders it (NaN last: the max propagates NaN, the min skips it); so the masks below
    // select exactly PML's pairs, and the sort only decides their order, which is made only when asked for.
    Tensor pos = matPosSorting;
    Tensor neg = matNegSorting;
    Tensor hardPos;
    Tensor hardNeg;
    if (inverted) {
      Tensor maxNeg = neg.amax(new long[] {1}, true);
      Tensor minPos = minSkippingNaN(pos);
      hardPos = pos.sub(Tensors.s(epsilon)).lt(maxNeg);
      hardNeg = neg.add(Tensors.s(epsilon)).gt(minPos);
    } else {
      Tensor minNeg = minSkippingNaN(neg);
      Tensor maxPos = pos.amax(new long[] {1}, true);
      hardPos = pos.add(Tensors.s(epsilon)).gt(minNeg);
      hardNeg = neg.sub(Tensors.s(epsilon)).lt(maxPos);
    }
    double eps = epsilon;
    return IndicesTuple.pairsFromMasks(hardPos, hardNeg, () -> ordered(pos, neg, inverted, eps));
  }

  /**
   * Each row's smallest non-NaN value (+inf for a row of NaN only), as the first element of an ascending sort (NaN
   * last). amin propagates NaN, so only a row whose min is NaN has one; only then is NaN replaced (by +inf).
   */
  private static Tensor minSkippingNaN(Tensor t) {
    Tensor min = t.amin(new long[] {1}, true);
    if (!min.isnan().any().item_bool()) {
      return min;
    }
    return t.masked_fill(t.isnan(), Tensors.s(Double.POSITIVE_INFINITY)).amin(new long[] {1}, true);
  }

  /** PML's pairs in PML's order: rows sorted ascending (stable), the hard prefix / suffix of each. */
  private static Tensor[] ordered(Tensor matPosSorting, Tensor matNegSorting, boolean inverted, double epsilon) {
    T_TensorTensor_T ps = matPosSorting.sort(1, false);
    T_TensorTensor_T ns = matNegSorting.sort(1, false);
    Tensor posSorted = ps.get0();
    Tensor posSortedIdx = ps.get1();
    Tensor negSorted = ns.get0();
    Tensor negSortedIdx = ns.get1();
    long last = matPosSorting.size(1) - 1;
    Tensor[] hardPos;
    Tensor[] hardNeg;
    if (inverted) {
      hardPos = Tensors.where(posSorted.sub(Tensors.s(epsilon)).lt(negSorted.select(1, last).unsqueeze(1)));
      hardNeg = Tensors.where(negSorted.add(Tensors.s(epsilon)).gt(posSorted.select(1, 0).unsqueeze(1)));
    } else {
      hardPos = Tensors.where(posSorted.add(Tensors.s(epsilon)).gt(negSorted.select(1, 0).unsqueeze(1)));
      hardNeg = Tensors.where(negSorted.sub(Tensors.s(epsilon)).lt(posSorted.select(1, last).unsqueeze(1)));
    }
    return new Tensor[] {hardPos[0], Tensors.index2(posSortedIdx, hardPos[0], hardPos[1]), hardNeg[0],
        Tensors.index2(negSortedIdx, hardNeg[0], hardNeg[1])};
  }

  public double epsilon() {
    return epsilon;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(epsilon=" + epsilon + ", distance=" + distance + ")";
  }

  /** Registry factory: {@code epsilon}, {@code distance}, {@code collect_stats}. */
  public static MultiSimilarityMiner fromSpec(Params p) {
    double eps = p.getDouble("epsilon", DEFAULT_EPSILON);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new MultiSimilarityMiner(eps, d);
  }
}
