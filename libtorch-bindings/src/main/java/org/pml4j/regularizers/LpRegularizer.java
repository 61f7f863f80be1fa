package org.pml4j.regularizers;

import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code LpRegularizer}: penalizes each row's Lp norm, {@code ||x_i||_p ** power} (element-wise, default
 * {@link org.pml4j.reducers.MeanReducer}). Its {@code p} and {@code power} are its own; the distance is unused.
 */
public class LpRegularizer extends BaseRegularizer {
  private final double p;
  private final double power;

  /** PML's defaults: p 2, power 1. */
  public LpRegularizer() {
    this(2, 1, null, null);
  }

  /**
   * @param p the norm's order
   * @param power exponent applied to each norm
   * @param distance null for the default (unused by this regularizer)
   * @param reducer null for {@link org.pml4j.reducers.MeanReducer}
   */
  public LpRegularizer(double p, double power, BaseDistance distance, BaseReducer reducer) {
    super(distance, reducer);
    this.p = p;
    this.power = power;
  }

  @Override
  protected LossDict computeLoss(Tensor x) {
    Tensor reg = x.norm(new ScalarOptional(Tensors.s(p)), new long[] {1}, false);
    if (power != 1) {
      reg = reg.pow(Tensors.s(power));
    }
    return LossDict.of("loss", LossInfo.element(reg, Tensors.arange(x.size(0), x)));
  }

  public double p() {
    return p;
  }

  public double power() {
    return power;
  }

  /** Registry factory: {@code p}, {@code power}, {@code distance}, {@code reducer}, {@code collect_stats}. */
  public static LpRegularizer fromSpec(Params p) {
    p.collectStats();
    return new LpRegularizer(p.getDouble("p", 2), p.getDouble("power", 1),
        p.getComponent("distance", BaseDistance.class), p.getComponent("reducer", BaseReducer.class));
  }
}
