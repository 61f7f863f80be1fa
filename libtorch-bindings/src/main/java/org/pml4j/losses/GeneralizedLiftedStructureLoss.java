package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code GeneralizedLiftedStructureLoss}, the "generalized" lifted structure loss of Hermans et al. ("In Defense
 * of the Triplet Loss", p. 4). Per query row {@code i}:
 * {@code relu(logsumexp_{p in P(i)} margin(d_ip, posMargin) + logsumexp_{n in N(i)} margin(negMargin, d_in))} (no "+1";
 * a row without positives or negatives contributes 0 for that term). Pairs come from the tuple or the labels.
 * Sub-loss {@code loss}, reduction {@code element} over the query rows, default
 * {@link org.pml4j.reducers.MeanReducer}.
 */
public class GeneralizedLiftedStructureLoss extends GenericPairLoss {
  private final double negMargin;
  private final double posMargin;

  /** PML's default {@code neg_margin}. */
  public static final double DEFAULT_NEG_MARGIN = 1;
  /** PML's default {@code pos_margin}. */
  public static final double DEFAULT_POS_MARGIN = 0;

  /** PML's defaults: {@link #DEFAULT_NEG_MARGIN}, {@link #DEFAULT_POS_MARGIN}. */
  public GeneralizedLiftedStructureLoss() {
    this(DEFAULT_NEG_MARGIN, DEFAULT_POS_MARGIN, LossOptions.defaults());
  }

  /**
   * @param negMargin margin of the negative pairs
   * @param posMargin margin of the positive pairs
   * @param options distance (default LpDistance), reducer, embedding regularizer
   */
  public GeneralizedLiftedStructureLoss(double negMargin, double posMargin, LossOptions options) {
    super(true, options);
    this.negMargin = negMargin;
    this.posMargin = posMargin;
  }

  @Override
  protected LossDict computeMatLoss(Tensor mat, Tensor posMask, Tensor negMask) {
    Tensor remainingPos = distance.margin(mat, posMargin);
    Tensor remainingNeg = distance.margin(negMargin, mat);
    Tensor posLoss = Lmu.logsumexp(remainingPos, posMask.to(ScalarType.Bool), false, 1);
    Tensor negLoss = Lmu.logsumexp(remainingNeg, negMask.to(ScalarType.Bool), false, 1);
    Tensor losses = torch.relu(posLoss.add(negLoss));
    return LossDict.of("loss", LossInfo.element(losses, Tensors.arange(mat.size(0), mat)));
  }

  public double negMargin() {
    return negMargin;
  }

  public double posMargin() {
    return posMargin;
  }

  /** Registry factory: {@code neg_margin}, {@code pos_margin}, common kwargs. */
  public static GeneralizedLiftedStructureLoss fromSpec(Params p) {
    return new GeneralizedLiftedStructureLoss(p.getDouble("neg_margin", DEFAULT_NEG_MARGIN),
        p.getDouble("pos_margin", DEFAULT_POS_MARGIN), LossOptions.fromSpec(p, false));
  }
}
