package org.pml4j.losses;

import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.SNRDistance;
import org.pml4j.spec.Params;

/**
 * PML's {@code SignalToNoiseRatioContrastiveLoss} (Yuan et al., "Signal-To-Noise Ratio: A Robust Distance Metric for
 * Deep Metric Learning"): a {@link ContrastiveLoss} on the {@link SNRDistance} (required; the default), i.e. positive
 * pairs pay {@code relu(snr - posMargin)}, negative pairs {@code relu(negMargin - snr)}, each sub-loss reduced by
 * {@link org.pml4j.reducers.AvgNonZeroReducer} and summed. The paper's zero-mean regularization is not built in: pass
 * {@code embedding_regularizer = ZeroMeanRegularizer}.
 */
public class SignalToNoiseRatioContrastiveLoss extends ContrastiveLoss {
  /**
   * PML's defaults, inherited from ContrastiveLoss: {@link #DEFAULT_POS_MARGIN}, {@link #DEFAULT_NEG_MARGIN};
   * SNRDistance.
   */
  public SignalToNoiseRatioContrastiveLoss() {
    this(DEFAULT_POS_MARGIN, DEFAULT_NEG_MARGIN, LossOptions.defaults());
  }

  /**
   * @param posMargin margin of the positive pairs
   * @param negMargin margin of the negative pairs
   * @param options distance (must be an SNRDistance; default one), reducer, embedding regularizer
   * @throws IllegalArgumentException for another distance
   */
  public SignalToNoiseRatioContrastiveLoss(double posMargin, double negMargin, LossOptions options) {
    super(posMargin, negMargin, options);
    requireDistance(SNRDistance.class, null, null);
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new SNRDistance();
  }

  /** Registry factory: {@code pos_margin}, {@code neg_margin}, common kwargs. */
  public static SignalToNoiseRatioContrastiveLoss fromSpec(Params p) {
    return new SignalToNoiseRatioContrastiveLoss(p.getDouble("pos_margin", DEFAULT_POS_MARGIN),
        p.getDouble("neg_margin", DEFAULT_NEG_MARGIN), LossOptions.fromSpec(p, false));
  }
}
