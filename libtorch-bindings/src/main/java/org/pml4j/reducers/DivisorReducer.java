package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;

/**
 * PML's {@code DivisorReducer}: {@code sum(losses) / divisor}, the divisor coming from the loss dict entry; the zero
 * loss when the divisor is 0.
 */
public class DivisorReducer extends BaseReducer {
  protected Tensor sumAndDivide(Tensor losses, Tensor embeddings, LossInfo info) {
    double divisor = info.divisor() == null ? 1.0 : info.divisor();
    if (divisor != 0) {
      return losses.sum().div(org.pml4j.torch.Tensors.s(divisor));
    }
    return zeroLoss(embeddings);
  }

  @Override
  protected Tensor elementReduction(Tensor losses, Tensor indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return sumAndDivide(losses, embeddings, info);
  }

  @Override
  protected Tensor posPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return sumAndDivide(losses, embeddings, info);
  }

  @Override
  protected Tensor negPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return sumAndDivide(losses, embeddings, info);
  }

  @Override
  protected Tensor tripletReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return sumAndDivide(losses, embeddings, info);
  }

  /** Registry factory (no parameters but {@code collect_stats}). */
  public static DivisorReducer fromSpec(Params p) {
    p.collectStats();
    return new DivisorReducer();
  }
}
