package org.pml4j.regularizers;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * PML's {@code BaseRegularizer}: a penalty on the rows of a matrix (embeddings, or class weight vectors), reduced
 * with {@code labels = arange(N)}. Used as a loss's {@code embedding_regularizer} or {@code weight_regularizer}.
 */
public abstract class BaseRegularizer {
  static {
    Torch.ensureLoaded();
  }

  protected final BaseDistance distance;
  protected final BaseReducer reducer;

  /**
   * @param distance null for this regularizer's default
   * @param reducer null for this regularizer's default
   */
  protected BaseRegularizer(BaseDistance distance, BaseReducer reducer) {
    this.distance = distance == null ? defaultDistance() : distance;
    this.reducer = reducer == null ? defaultReducer() : reducer;
  }

  protected BaseDistance defaultDistance() {
    return new LpDistance();
  }

  protected BaseReducer defaultReducer() {
    return new MeanReducer();
  }

  /**
   * The reduced penalty of the rows of {@code x} ({@code [N, D]}).
   *
   * @throws IllegalArgumentException when {@code x} is null, not 2-D, or not float32/float64 (or, for some
   *     regularizers, has a row count they cannot use)
   */
  public Tensor forward(Tensor x) {
    Tensors.requireFloatMatrix(x, getClass().getSimpleName() + " input x");
    return reducer.forward(computeLoss(x), x, Tensors.arange(x.size(0), x));
  }

  /** PML's {@code compute_loss(x)}. */
  protected abstract LossDict computeLoss(Tensor x);

  public BaseDistance distance() {
    return distance;
  }

  public BaseReducer reducer() {
    return reducer;
  }
}
