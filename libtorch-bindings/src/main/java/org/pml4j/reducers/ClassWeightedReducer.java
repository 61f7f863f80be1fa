package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code ClassWeightedReducer}: {@code mean(losses * weights[labels[anchor]])}, the anchor being the element
 * index, or the first index of a pair or triplet.
 */
public class ClassWeightedReducer extends BaseReducer {
  private final double[] weights;

  /** @param weights one weight per class label */
  public ClassWeightedReducer(double[] weights) {
    if (weights == null) {
      throw new IllegalArgumentException("weights must not be null");
    }
    for (int i = 0; i < weights.length; i++) {
      if (!Double.isFinite(weights[i])) {
        throw new IllegalArgumentException("weights[" + i + "] must be finite, got " + weights[i]);
      }
    }
    this.weights = weights.clone();
  }

  protected Tensor weighted(Tensor losses, Tensor anchors, Tensor labels) {
    if (labels == null) {
      throw new IllegalArgumentException("ClassWeightedReducer needs labels");
    }
    if (labels.dim() != 1 || labels.is_floating_point() || Tensors.dtype(labels) == ScalarType.Bool) {
      throw new IllegalArgumentException("ClassWeightedReducer: labels must be a 1D integer tensor, got "
          + Tensors.dtype(labels) + " of shape " + Tensors.shapeString(labels));
    }
    checkIndexRange(anchors, "anchor indices", Tensors.len(labels), "labels");
    Tensor w = Tensors.of(weights, ScalarType.Double).to(losses.device(), losses.scalar_type().intern());
    Tensor anchorLabels = Tensors.index(labels, anchors.to(ScalarType.Long));
    long max = Tensors.len(anchorLabels) == 0 ? -1 : anchorLabels.max().item_long();
    long min = Tensors.len(anchorLabels) == 0 ? 0 : anchorLabels.min().item_long();
    if (max >= weights.length || min < 0) {
      throw new IllegalArgumentException("ClassWeightedReducer has " + weights.length + " weights but saw label "
          + (min < 0 ? min : max));
    }
    return losses.mul(Tensors.index(w, anchorLabels)).mean();
  }

  @Override
  protected Tensor elementReduction(Tensor losses, Tensor indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return weighted(losses, indices, labels);
  }

  @Override
  protected Tensor posPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return weighted(losses, indices[0], labels);
  }

  @Override
  protected Tensor negPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return weighted(losses, indices[0], labels);
  }

  @Override
  protected Tensor tripletReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return weighted(losses, indices[0], labels);
  }

  public double[] weights() {
    return weights.clone();
  }

  /** Registry factory: {@code weights} (list of numbers). */
  public static ClassWeightedReducer fromSpec(Params p) {
    p.collectStats();
    double[] w = p.getDoubleArray("weights");
    if (w == null) {
      throw new IllegalArgumentException("ClassWeightedReducer needs weights");
    }
    return new ClassWeightedReducer(w);
  }
}
