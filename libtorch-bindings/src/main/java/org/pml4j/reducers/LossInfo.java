package org.pml4j.reducers;

import org.bytedeco.pytorch.Tensor;

/**
 * One entry of a loss dict: {@code {"losses", "indices", "reduction_type", "divisor"}}.
 *
 * @param losses per-item losses, or {@code null} for PML's zero-loss sentinel (the Python {@code 0})
 * @param indices the indices of each loss: 1 tensor for element, 2 for pairs, 3 for triplets, null when reduced
 * @param reductionType how {@code losses} is indexed
 * @param divisor read only by {@link DivisorReducer}; null when absent
 */
public record LossInfo(Tensor losses, Tensor[] indices, ReductionType reductionType, Double divisor) {
  /** An entry without a divisor. */
  public LossInfo(Tensor losses, Tensor[] indices, ReductionType reductionType) {
    this(losses, indices, reductionType, null);
  }

  /** PML's zero loss: {@code {"losses": 0, "indices": None, "reduction_type": "already_reduced"}}. */
  public static LossInfo zero() {
    return new LossInfo(null, null, ReductionType.ALREADY_REDUCED, null);
  }

  /** An element-wise entry. */
  public static LossInfo element(Tensor losses, Tensor indices) {
    return new LossInfo(losses, new Tensor[] {indices}, ReductionType.ELEMENT);
  }

  /** An already-reduced scalar. */
  public static LossInfo reduced(Tensor loss) {
    return new LossInfo(loss, null, ReductionType.ALREADY_REDUCED);
  }

  /** Whether this is the zero-loss sentinel. */
  public boolean isZero() {
    return losses == null;
  }
}
