package org.pml4j.miners;

import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
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
    IndicesTuple all = Lmu.allPairsIndices(labels, refLabels);
    Tensor a1 = all.get(0);
    Tensor p = all.get(1);
    Tensor a2 = all.get(2);
    Tensor n = all.get(3);
    if (Tensors.len(a1) == 0 || Tensors.len(a2) == 0) {
      Tensor e = empty(labels);
      return IndicesTuple.pairs(e, e.clone(), e.clone(), e.clone());
    }
    boolean inverted = distance.isInverted();
    Tensor matNegSorting = mat;
    Tensor matPosSorting = mat.clone();
    double posIgnore = inverted ? Tensors.posInf(Tensors.dtype(mat)) : Tensors.negInf(Tensors.dtype(mat));
    double negIgnore = inverted ? Tensors.negInf(Tensors.dtype(mat)) : Tensors.posInf(Tensors.dtype(mat));
    Tensors.put2(matPosSorting, a2, n, posIgnore);
    Tensors.put2(matNegSorting, a1, p, negIgnore);
    if (embeddings == refEmb) {
      matPosSorting.fill_diagonal_(Tensors.s(posIgnore));
      matNegSorting.fill_diagonal_(Tensors.s(negIgnore));
    }
    T_TensorTensor_T ps = matPosSorting.sort(1, false);
    T_TensorTensor_T ns = matNegSorting.sort(1, false);
    Tensor posSorted = ps.get0();
    Tensor posSortedIdx = ps.get1();
    Tensor negSorted = ns.get0();
    Tensor negSortedIdx = ns.get1();
    long last = mat.size(1) - 1;
    Tensor[] hardPos;
    Tensor[] hardNeg;
    if (inverted) {
      hardPos = Tensors.where(posSorted.sub(Tensors.s(epsilon)).lt(negSorted.select(1, last).unsqueeze(1)));
      hardNeg = Tensors.where(negSorted.add(Tensors.s(epsilon)).gt(posSorted.select(1, 0).unsqueeze(1)));
    } else {
      hardPos = Tensors.where(posSorted.add(Tensors.s(epsilon)).gt(negSorted.select(1, 0).unsqueeze(1)));
      hardNeg = Tensors.where(negSorted.sub(Tensors.s(epsilon)).lt(posSorted.select(1, last).unsqueeze(1)));
    }
    Tensor outA1 = hardPos[0];
    Tensor outP = Tensors.index2(posSortedIdx, outA1, hardPos[1]);
    Tensor outA2 = hardNeg[0];
    Tensor outN = Tensors.index2(negSortedIdx, outA2, hardNeg[1]);
    return IndicesTuple.pairs(outA1, outP, outA2, outN);
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
