package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;

/** PML's {@code MeanReducer}: the mean of all losses, whatever their type. */
public class MeanReducer extends BaseReducer {
  protected Tensor reduceAll(Tensor losses) {
    return losses.mean();
  }

  @Override
  protected Tensor elementReduction(Tensor losses, Tensor indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return reduceAll(losses);
  }

  @Override
  protected Tensor posPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return reduceAll(losses);
  }

  @Override
  protected Tensor negPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return reduceAll(losses);
  }

  @Override
  protected Tensor tripletReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return reduceAll(losses);
  }

  /** Registry factory (no parameters but {@code collect_stats}). */
  public static MeanReducer fromSpec(Params p) {
    p.collectStats();
    return new MeanReducer();
  }
}
