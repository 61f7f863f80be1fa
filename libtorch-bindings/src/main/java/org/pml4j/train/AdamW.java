package org.pml4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerOptions;
import org.bytedeco.pytorch.TensorVector;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)} on
 * LibTorch's {@code torch::optim::AdamW} (decoupled weight decay),
 * plus {@code loss_lr} for the loss-parameter group (see {@link OptimizerSpec}).
 */
public final class AdamW extends OptimizerSpec {
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final boolean amsgrad;

  /** PyTorch's defaults. */
  public AdamW() {
    this(1e-3);
  }

  /** PyTorch's defaults with learning rate {@code lr}. */
  public AdamW(double lr) {
    this(lr, 0.9, 0.999, 1e-8, 1e-2, false, null);
  }

  /**
   * @param lossLr learning rate of the loss parameters, or null for {@code lr}
   * @throws IllegalArgumentException for values PyTorch rejects (negative lr, eps or weight decay, betas outside [0, 1))
   */
  public AdamW(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad, Double lossLr) {
    super(lr, lossLr, weightDecay);
    AdamBetas.check(beta1, beta2, eps);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.amsgrad = amsgrad;
  }

  /** {@code {"lr", "betas": [b1, b2], "eps", "weight_decay", "amsgrad", "loss_lr"}}. */
  public static AdamW fromSpec(Params p) {
    double lr = p.getDouble("lr", 1e-3);
    double[] betas = AdamBetas.fromSpec(p);
    return new AdamW(lr, betas[0], betas[1], p.getDouble("eps", 1e-8), p.getDouble("weight_decay", 1e-2),
        p.getBool("amsgrad", false), p.getDoubleOrNull("loss_lr"));
  }

  @Override
  protected OptimizerOptions options(double lr) {
    AdamWOptions o = new AdamWOptions(lr);
    AdamBetas.set(o.betas(), beta1, beta2);
    o.eps().put(eps);
    o.weight_decay().put(weightDecay);
    o.amsgrad().put(amsgrad);
    return o;
  }

  @Override
  protected Optimizer create(TensorVector params, OptimizerOptions options) {
    return new org.bytedeco.pytorch.AdamW(params, (AdamWOptions) options);
  }

  @Override
  protected ObjectNode params() {
    ObjectNode n = baseParams();
    n.putArray("betas").add(beta1).add(beta2);
    n.put("eps", eps);
    n.put("weight_decay", weightDecay);
    n.put("amsgrad", amsgrad);
    return n;
  }

  public double beta1() {
    return beta1;
  }

  public double beta2() {
    return beta2;
  }

  public double eps() {
    return eps;
  }

  public boolean amsgrad() {
    return amsgrad;
  }
}
