package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code ThresholdReducer}: the mean of the losses strictly between {@code low} and {@code high} (either may be
 * absent, not both); the zero loss when none pass.
 */
public class ThresholdReducer extends BaseReducer {
  private final Double low;
  private final Double high;

  /**
   * @param low exclusive lower bound, or null
   * @param high exclusive upper bound, or null
   */
  public ThresholdReducer(Double low, Double high) {
    if (low == null && high == null) {
      throw new IllegalArgumentException("At least one of low or high must be specified");
    }
    if ((low != null && low.isNaN()) || (high != null && high.isNaN())) {
      throw new IllegalArgumentException("ThresholdReducer: " + (low != null && low.isNaN() ? "low" : "high")
          + " must not be NaN");
    }
    this.low = low;
    this.high = high;
  }

  protected Tensor filteredMean(Tensor losses, Tensor embeddings) {
    if (low != null) {
      losses = Tensors.index(losses, losses.gt(Tensors.s(low)));
    }
    if (high != null) {
      losses = Tensors.index(losses, losses.lt(Tensors.s(high)));
    }
    return Tensors.len(losses) >= 1 ? losses.mean() : zeroLoss(embeddings);
  }

  @Override
  protected Tensor elementReduction(Tensor losses, Tensor indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return filteredMean(losses, embeddings);
  }

  @Override
  protected Tensor posPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return filteredMean(losses, embeddings);
  }

  @Override
  protected Tensor negPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return filteredMean(losses, embeddings);
  }

  @Override
  protected Tensor tripletReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return filteredMean(losses, embeddings);
  }

  public Double low() {
    return low;
  }

  public Double high() {
    return high;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(low=" + low + ", high=" + high + ")";
  }

  /** Registry factory: {@code low}, {@code high}. */
  public static ThresholdReducer fromSpec(Params p) {
    p.collectStats();
    return new ThresholdReducer(p.getDoubleOrInfOrNull("low"), p.getDoubleOrInfOrNull("high"));
  }
}
