package org.pml4j.regularizers;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code ZeroMeanRegularizer} (from the SNR contrastive loss paper): {@code |sum_d x_id|} per row (element-wise,
 * default {@link org.pml4j.reducers.MeanReducer}). The distance is unused.
 */
public class ZeroMeanRegularizer extends BaseRegularizer {
  /** PML's defaults. */
  public ZeroMeanRegularizer() {
    this(null, null);
  }

  /**
   * @param distance null for the default (unused by this regularizer)
   * @param reducer null for {@link org.pml4j.reducers.MeanReducer}
   */
  public ZeroMeanRegularizer(BaseDistance distance, BaseReducer reducer) {
    super(distance, reducer);
  }

  @Override
  protected LossDict computeLoss(Tensor x) {
    Tensor losses = x.sum(new long[] {1}, false, new ScalarTypeOptional()).abs();
    return LossDict.of("loss", LossInfo.element(losses, Tensors.arange(x.size(0), x)));
  }

  /** Registry factory: {@code distance}, {@code reducer}, {@code collect_stats}. */
  public static ZeroMeanRegularizer fromSpec(Params p) {
    p.collectStats();
    return new ZeroMeanRegularizer(p.getComponent("distance", BaseDistance.class),
        p.getComponent("reducer", BaseReducer.class));
  }
}
