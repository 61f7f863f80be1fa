package org.pml4j.regularizers;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code CenterInvariantRegularizer}: pushes the squared norms of the rows (class weight vectors) towards their
 * mean, {@code (||w_i||^2 - mean_j ||w_j||^2)^2 / 4} per row (element-wise, default
 * {@link org.pml4j.reducers.MeanReducer}). The distance must be an {@link LpDistance} with power 1 and no
 * normalization (the default); its {@code p} gives the norm.
 */
public class CenterInvariantRegularizer extends BaseRegularizer {
  /** PML's defaults: {@code LpDistance(power=1, normalize_embeddings=False)}, MeanReducer. */
  public CenterInvariantRegularizer() {
    this(null, null);
  }

  /**
   * @param distance null for {@code LpDistance(normalize_embeddings=False)}; else an unnormalized LpDistance of power 1
   * @param reducer null for {@link org.pml4j.reducers.MeanReducer}
   * @throws IllegalArgumentException for another distance
   */
  public CenterInvariantRegularizer(BaseDistance distance, BaseReducer reducer) {
    super(distance, reducer);
    if (!(this.distance instanceof LpDistance)) {
      throw new IllegalArgumentException(
          "CenterInvariantRegularizer requires the distance metric to be LpDistance, got "
              + this.distance.getClass().getSimpleName());
    }
    if (this.distance.power() != 1) {
      throw new IllegalArgumentException("CenterInvariantRegularizer requires distance.power to be 1");
    }
    if (this.distance.normalizeEmbeddings()) {
      throw new IllegalArgumentException(
          "CenterInvariantRegularizer requires distance.normalize_embeddings to be False");
    }
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new LpDistance(false, 2, 1);
  }

  @Override
  protected LossDict computeLoss(Tensor x) {
    Tensor sq = distance.getNorm(x).pow(Tensors.s(2.0));
    Tensor dev = sq.sub(sq.mean());
    Tensor losses = dev.pow(Tensors.s(2.0)).div(Tensors.s(4.0));
    return LossDict.of("loss", LossInfo.element(losses, Tensors.arange(x.size(0), x)));
  }

  /** Registry factory: {@code distance}, {@code reducer}, {@code collect_stats}. */
  public static CenterInvariantRegularizer fromSpec(Params p) {
    p.collectStats();
    return new CenterInvariantRegularizer(p.getComponent("distance", BaseDistance.class),
        p.getComponent("reducer", BaseReducer.class));
  }
}
