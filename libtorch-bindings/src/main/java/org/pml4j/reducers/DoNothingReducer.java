package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;

/**
 * PML's {@code DoNothingReducer}: returns the loss dict itself. A loss configured with it cannot produce a scalar; use
 * {@code loss.lossDict(...)} (or {@link #forwardDict}) to get the unreduced dict.
 */
public class DoNothingReducer extends BaseReducer {
  /** Returns {@code lossDict} unchanged. */
  public LossDict forwardDict(LossDict lossDict, Tensor embeddings, Tensor labels) {
    return lossDict;
  }

  /** Always throws: this reducer returns the loss dict, not a scalar. */
  @Override
  public Tensor forward(LossDict lossDict, Tensor embeddings, Tensor labels) {
    throw new IllegalStateException(
        "DoNothingReducer does not reduce: call lossDict(...) on the loss, or DoNothingReducer.forwardDict(...)");
  }

  @Override
  protected Tensor elementReduction(Tensor l, Tensor i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("DoNothingReducer does not reduce");
  }

  @Override
  protected Tensor posPairReduction(Tensor l, Tensor[] i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("DoNothingReducer does not reduce");
  }

  @Override
  protected Tensor negPairReduction(Tensor l, Tensor[] i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("DoNothingReducer does not reduce");
  }

  @Override
  protected Tensor tripletReduction(Tensor l, Tensor[] i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("DoNothingReducer does not reduce");
  }

  /** Registry factory (no parameters but {@code collect_stats}). */
  public static DoNothingReducer fromSpec(Params p) {
    p.collectStats();
    return new DoNothingReducer();
  }
}
