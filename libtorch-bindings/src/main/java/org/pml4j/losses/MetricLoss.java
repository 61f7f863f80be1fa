package org.pml4j.losses;

import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.tuples.IndicesTuple;

/**
 * Anything that maps a batch to a scalar loss: every {@link BaseMetricLossFunction}, and the wrappers
 * (CrossBatchMemory, MultipleLosses, SelfSupervisedLoss).
 */
public interface MetricLoss {
  /**
   * The reduced loss.
   *
   * @param labels null where the loss allows it
   * @param indicesTuple null for all pairs/triplets from the labels
   * @param refEmb null for the batch itself
   * @param refLabels labels of {@code refEmb}
   */
  Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb, Tensor refLabels);

  /** Learnable parameters by PML's {@code named_parameters()} name (qualified in wrappers: {@code losses.0.W}). */
  Map<String, Tensor> parameters();

  /** Replaces a parameter's values in place. */
  void setParameter(String name, Tensor value);

  /** Converts every parameter to a dtype (and device, when not null). */
  void toParameters(ScalarType dtype, Device device);
}
