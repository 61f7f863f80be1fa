package org.pml4j.miners;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code PairMarginMiner}: positive pairs farther than {@code posMargin} and negative pairs closer than
 * {@code negMargin}. For similarities the comparisons flip: positives with {@code s < posMargin}, negatives with
 * {@code s > negMargin} (PML's default margins only make sense for distances).
 */
public class PairMarginMiner extends BaseMiner {
  private final double posMargin;
  private final double negMargin;

  /** PML's default {@code pos_margin}. */
  public static final double DEFAULT_POS_MARGIN = 0.2;
  /** PML's default {@code neg_margin}. */
  public static final double DEFAULT_NEG_MARGIN = 0.8;

  /** PML's defaults: {@link #DEFAULT_POS_MARGIN}, {@link #DEFAULT_NEG_MARGIN}, LpDistance. */
  public PairMarginMiner() {
    this(DEFAULT_POS_MARGIN, DEFAULT_NEG_MARGIN, null);
  }

  /**
   * @param posMargin positive pairs beyond this value are kept
   * @param negMargin negative pairs within this value are kept
   * @param distance null for the default LpDistance
   */
  public PairMarginMiner(double posMargin, double negMargin, BaseDistance distance) {
    super(distance);
    this.posMargin = posMargin;
    this.negMargin = negMargin;
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    Tensor mat = distance.forward(embeddings, refEmb);
    IndicesTuple all = Lmu.allPairsIndices(labels, refLabels);
    Tensor a1 = all.get(0);
    Tensor p = all.get(1);
    Tensor a2 = all.get(2);
    Tensor n = all.get(3);
    Tensor pos = Tensors.index2(mat, a1, p);
    Tensor neg = Tensors.index2(mat, a2, n);
    boolean inv = distance.isInverted();
    Tensor posMask = inv ? pos.lt(Tensors.s(posMargin)) : pos.gt(Tensors.s(posMargin));
    Tensor negMask = inv ? neg.gt(Tensors.s(negMargin)) : neg.lt(Tensors.s(negMargin));
    return IndicesTuple.pairs(Tensors.index(a1, posMask), Tensors.index(p, posMask), Tensors.index(a2, negMask),
        Tensors.index(n, negMask));
  }

  public double posMargin() {
    return posMargin;
  }

  public double negMargin() {
    return negMargin;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(pos_margin=" + posMargin + ", neg_margin=" + negMargin + ", distance="
        + distance + ")";
  }

  /** Registry factory: {@code pos_margin}, {@code neg_margin}, {@code distance}, {@code collect_stats}. */
  public static PairMarginMiner fromSpec(Params p) {
    double pos = p.getDouble("pos_margin", DEFAULT_POS_MARGIN);
    double neg = p.getDouble("neg_margin", DEFAULT_NEG_MARGIN);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new PairMarginMiner(pos, neg, d);
  }
}
