package org.pml4j.regularizers;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code RegularFaceRegularizer}: for each row (class weight vector), its similarity to the most similar other
 * row (element-wise, default {@link org.pml4j.reducers.MeanReducer}). The nearest row is chosen without gradient, as in
 * PML; the gradient flows through the chosen similarity only. The distance must be a similarity (default
 * {@link CosineSimilarity}).
 */
public class RegularFaceRegularizer extends BaseRegularizer {
  /** PML's defaults: CosineSimilarity, MeanReducer. */
  public RegularFaceRegularizer() {
    this(null, null);
  }

  /**
   * @param distance null for {@link CosineSimilarity}; must be inverted (a similarity)
   * @param reducer null for {@link org.pml4j.reducers.MeanReducer}
   * @throws IllegalArgumentException for a non-inverted distance
   */
  public RegularFaceRegularizer(BaseDistance distance, BaseReducer reducer) {
    super(distance, reducer);
    if (!this.distance.isInverted()) {
      throw new IllegalArgumentException("RegularFaceRegularizer requires an inverted distance (a similarity), got "
          + this.distance.getClass().getSimpleName());
    }
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor x) {
    long n = x.size(0);
    if (n == 0) {
      // PML fails in torch.max(dim=1) over the empty similarity matrix.
      throw new IllegalArgumentException("RegularFaceRegularizer input x must have at least one row (one per class), "
          + "got shape " + Tensors.shapeString(x));
    }
    Tensor cos = distance.forward(x);
    Tensor mask;
    try (NoGradGuard g = new NoGradGuard()) {
      Tensor cos1 = cos.detach().clone();
      cos1.fill_diagonal_(Tensors.s(Tensors.negInf(Tensors.dtype(x))));
      // smallest_dist of a similarity = max; torch.max(dim) and argmax pick the first maximum on ties.
      Tensor indices = cos1.argmax(new org.bytedeco.pytorch.LongOptional(1), false);
      mask = Tensors.zeros(cos, n, n);
      Tensors.put2(mask, Tensors.arange(n, x), indices, 1.0);
    }
    Tensor losses = cos.mul(mask).sum(new long[] {1}, false, new ScalarTypeOptional());
    return LossDict.of("loss", LossInfo.element(losses, Tensors.arange(n, x)));
  }

  /** Registry factory: {@code distance}, {@code reducer}, {@code collect_stats}. */
  public static RegularFaceRegularizer fromSpec(Params p) {
    p.collectStats();
    return new RegularFaceRegularizer(p.getComponent("distance", BaseDistance.class),
        p.getComponent("reducer", BaseReducer.class));
  }
}
