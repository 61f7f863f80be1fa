package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code LiftedStructureLoss} (Oh Song et al.). For every positive pair {@code (a, p)}:
 * {@code relu(logsumexp_n margin(negMargin, d_n) + margin(d_ap, posMargin))^2 / 2}, where the negatives are the
 * negative pairs whose anchor is {@code a} <em>or</em> {@code p} (no "+1" inside the logsumexp). Pairs come from the
 * tuple or the labels. Sub-loss {@code loss}, reduction {@code pos_pair}, default
 * {@link org.pml4j.reducers.MeanReducer}; the zero loss when there are no positive or no negative pairs.
 */
public class LiftedStructureLoss extends GenericPairLoss {
  private final double negMargin;
  private final double posMargin;

  /** PML's default {@code neg_margin}. */
  public static final double DEFAULT_NEG_MARGIN = 1;
  /** PML's default {@code pos_margin}. */
  public static final double DEFAULT_POS_MARGIN = 0;

  /** PML's defaults: {@link #DEFAULT_NEG_MARGIN}, {@link #DEFAULT_POS_MARGIN}. */
  public LiftedStructureLoss() {
    this(DEFAULT_NEG_MARGIN, DEFAULT_POS_MARGIN, LossOptions.defaults());
  }

  /**
   * @param negMargin margin of the negative pairs
   * @param posMargin margin of the positive pairs
   * @param options distance (default LpDistance), reducer, embedding regularizer
   */
  public LiftedStructureLoss(double negMargin, double posMargin, LossOptions options) {
    super(false, options);
    this.negMargin = negMargin;
    this.posMargin = posMargin;
  }

  @Override
  protected LossDict computePairLoss(Tensor posPairs, Tensor negPairs, IndicesTuple pairs) {
    Tensor a1 = pairs.get(0);
    Tensor p = pairs.get(1);
    Tensor a2 = pairs.get(2);
    if (Tensors.len(a1) == 0 || Tensors.len(a2) == 0) {
      return zeroLosses();
    }
    Tensor pos = posPairs.unsqueeze(1);
    Tensor nPerPBool = a2.unsqueeze(0).eq(a1.unsqueeze(1)).logical_or(a2.unsqueeze(0).eq(p.unsqueeze(1)));
    Tensor nPerP = nPerPBool.to(Tensors.dtype(pos));
    Tensor neg = negPairs.mul(nPerP);
    Tensor keepMask = nPerP.ne(Tensors.s(0.0));
    Tensor remainingPos = distance.margin(pos, posMargin);
    Tensor remainingNeg = distance.margin(negMargin, neg);
    Tensor negLoss = Lmu.logsumexp(remainingNeg, keepMask, false, 1);
    Tensor losses = torch.relu(negLoss.add(remainingPos)).pow(Tensors.s(2.0)).div(Tensors.s(2.0));
    return LossDict.of("loss", new LossInfo(losses, new Tensor[] {a1, p}, ReductionType.POS_PAIR));
  }

  public double negMargin() {
    return negMargin;
  }

  public double posMargin() {
    return posMargin;
  }

  /** Registry factory: {@code neg_margin}, {@code pos_margin}, common kwargs. */
  public static LiftedStructureLoss fromSpec(Params p) {
    return new LiftedStructureLoss(p.getDouble("neg_margin", DEFAULT_NEG_MARGIN),
        p.getDouble("pos_margin", DEFAULT_POS_MARGIN), LossOptions.fromSpec(p, false));
  }
}
