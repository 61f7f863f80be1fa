package org.pml4j.losses;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.reducers.AvgNonZeroReducer;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code ContrastiveLoss}: positive pairs pay {@code relu(margin(d, posMargin))}, negative pairs
 * {@code relu(margin(negMargin, d))}. With a similarity the margins must be given in similarity terms (e.g. pos 1,
 * neg 0). Two sub-losses, {@code pos_loss} and {@code neg_loss}, each reduced by {@link AvgNonZeroReducer} and summed.
 */
public class ContrastiveLoss extends GenericPairLoss {
  private final double posMargin;
  private final double negMargin;

  /** PML's default {@code pos_margin}. Also {@link SignalToNoiseRatioContrastiveLoss}'s, which PML inherits */
  public static final double DEFAULT_POS_MARGIN = 0;
  /** PML's default {@code neg_margin}. Also {@link SignalToNoiseRatioContrastiveLoss}'s */
  public static final double DEFAULT_NEG_MARGIN = 1;

  /** PML's defaults: {@link #DEFAULT_POS_MARGIN}, {@link #DEFAULT_NEG_MARGIN}. */
  public ContrastiveLoss() {
    this(DEFAULT_POS_MARGIN, DEFAULT_NEG_MARGIN, LossOptions.defaults());
  }

  public ContrastiveLoss(double posMargin, double negMargin, LossOptions options) {
    super(false, options);
    this.posMargin = posMargin;
    this.negMargin = negMargin;
  }

  @Override
  protected BaseReducer defaultReducer() {
    return new AvgNonZeroReducer();
  }

  @Override
  protected List<String> baseSubLossNames() {
    return List.of("pos_loss", "neg_loss");
  }

  @Override
  protected LossDict computePairLoss(Tensor posPairs, Tensor negPairs, IndicesTuple pairs) {
    LossDict d = new LossDict();
    d.put("pos_loss", posPairs == null ? LossInfo.zero()
        : new LossInfo(torch.relu(distance.margin(posPairs, posMargin)), new Tensor[] {pairs.get(0), pairs.get(1)},
            ReductionType.POS_PAIR));
    d.put("neg_loss", negPairs == null ? LossInfo.zero()
        : new LossInfo(torch.relu(distance.margin(negMargin, negPairs)), new Tensor[] {pairs.get(2), pairs.get(3)},
            ReductionType.NEG_PAIR));
    return d;
  }

  @Override
  protected boolean supportsDensePairLoss() {
    return true;
  }

  @Override
  LossDict computeFusedDenseLoss(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels,
      Tensor selfSlots, DenseContrastive.BankNorms bankNorms) {
    return DenseContrastive.applies(this, embeddings, refEmb)
        ? DenseContrastive.forward(this, embeddings, labels, refEmb, refLabels, selfSlots, bankNorms) : null;
  }

  @Override
  protected LossDict computeDensePairLoss(Tensor mat, Tensor posMask, Tensor negMask, long numPos, long numNeg) {
    LossDict d = new LossDict();
    d.put("pos_loss", reduceDense("pos_loss", torch.relu(distance.margin(mat, posMargin)), posMask, numPos));
    d.put("neg_loss", reduceDense("neg_loss", torch.relu(distance.margin(negMargin, mat)), negMask, numNeg));
    return d;
  }

  public double posMargin() {
    return posMargin;
  }

  public double negMargin() {
    return negMargin;
  }

  /** Registry factory: {@code pos_margin}, {@code neg_margin}, common kwargs. */
  public static ContrastiveLoss fromSpec(Params p) {
    return new ContrastiveLoss(p.getDouble("pos_margin", DEFAULT_POS_MARGIN),
        p.getDouble("neg_margin", DEFAULT_NEG_MARGIN), LossOptions.fromSpec(p, false));
  }
}
