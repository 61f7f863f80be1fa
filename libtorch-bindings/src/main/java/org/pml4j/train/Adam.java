package org.pml4j.train;

import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerOptions;
import org.bytedeco.pytorch.TensorVector;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code torch.optim.Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False)} on
 * LibTorch's {@code torch::optim::Adam} (L2 weight decay added to the gradient),
 * plus {@code loss_lr} for the loss-parameter group (see {@link OptimizerSpec}).
 */
public final class Adam extends AdamBase {
  /** PyTorch's defaults. */
  public Adam() {
    this(1e-3);
  }

  /** PyTorch's defaults with learning rate {@code lr}. */
  public Adam(double lr) {
    this(lr, 0.9, 0.999, 1e-8, 0, false, null);
  }

  /**
   * @param lossLr learning rate of the loss parameters, or null for {@code lr}
   * @throws IllegalArgumentException for values PyTorch rejects (negative lr, eps or weight decay, betas outside
   *     [0, 1))
   */
  public Adam(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad, Double lossLr) {
    super(lr, beta1, beta2, eps, weightDecay, amsgrad, lossLr);
  }

  /** {@code {"lr", "betas": [b1, b2], "eps", "weight_decay", "amsgrad", "loss_lr"}}. */
  public static Adam fromSpec(Params p) {
    double lr = p.getDouble("lr", 1e-3);
    double[] betas = AdamBetas.fromSpec(p);
    return new Adam(lr, betas[0], betas[1], p.getDouble("eps", 1e-8), p.getDouble("weight_decay", 0),
        p.getBool("amsgrad", false), p.getDoubleOrNull("loss_lr"));
  }

  @Override
  protected OptimizerOptions options(double lr) {
    AdamOptions o = new AdamOptions(lr);
    AdamBetas.set(o.betas(), beta1, beta2);
    o.eps().put(eps);
    o.weight_decay().put(weightDecay);
    o.amsgrad().put(amsgrad);
    return o;
  }

  @Override
  protected Optimizer create(TensorVector params, OptimizerOptions options) {
    return new org.bytedeco.pytorch.Adam(params, (AdamOptions) options);
  }
}
