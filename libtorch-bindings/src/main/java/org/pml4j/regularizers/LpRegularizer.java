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
  /** PML's default {@code p}: the L2 norm. */
  public static final double DEFAULT_P = 2;
  /** PML's default {@code power}: the norm itself. */
  public static final double DEFAULT_POWER = 1;

  private final double p;
  private final double power;

  /** PML's defaults: {@link #DEFAULT_P}, {@link #DEFAULT_POWER}. */
  public LpRegularizer() {
    this(DEFAULT_P, DEFAULT_POWER, null, null);
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
    return new LpRegularizer(p.getDouble("p", DEFAULT_P), p.getDouble("power", DEFAULT_POWER),
        p.getComponent("distance", BaseDistance.class), p.getComponent("reducer", BaseReducer.class));
  }
}
