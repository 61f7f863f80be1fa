package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code InstanceLoss} (Zheng et al., ACM TOMM 2020): a per-sample softmax cross-entropy over the
 * {@code B × B} matrix {@code gamma · cos(x_i, x_j)}, whose target for row {@code i} is the rank of
 * {@code labels[i]} among the sorted distinct labels ({@code torch.unique(labels, return_inverse=True)}). As in PML
 * that target is a <em>column</em> (a sample) of the batch matrix, which is how the original code is written.
 *
 * <p>Labels are required (PML's {@code labels is None} branch is unreachable); indices tuples and reference sets are
 * not supported. The distance must be a {@link CosineSimilarity}.
 */
public class InstanceLoss extends BaseMetricLossFunction {
  private final double gamma;

  /** PML's default {@code gamma}: the scale. */
  public static final double DEFAULT_GAMMA = 64;

  /** PML's default: {@link #DEFAULT_GAMMA}. */
  public InstanceLoss() {
    this(DEFAULT_GAMMA, LossOptions.defaults());
  }

  /**
   * @param gamma multiplies the cosine similarities
   * @param options distance (CosineSimilarity only), reducer (default MeanReducer), embedding regularizer
   */
  public InstanceLoss(double gamma, LossOptions options) {
    super(options);
    requireDistance(CosineSimilarity.class, null, null);
    this.gamma = gamma;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    indicesTupleNotSupported(indicesTuple);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    Tensor sim = distance.forward(embeddings).mul(Tensors.s(gamma));
    Tensor simLabel = Tensors.unique(labels)[1];
    Tensor losses = LargeMarginSoftmaxLoss.crossEntropy(sim, simLabel);
    return LossDict.of("loss", LossInfo.element(losses, Tensors.arange(embeddings.size(0), embeddings)));
  }

  public double gamma() {
    return gamma;
  }

  /** Registry factory: {@code gamma} and the common kwargs. */
  public static InstanceLoss fromSpec(Params p) {
    return new InstanceLoss(p.getDouble("gamma", DEFAULT_GAMMA), LossOptions.fromSpec(p, false));
  }
}
