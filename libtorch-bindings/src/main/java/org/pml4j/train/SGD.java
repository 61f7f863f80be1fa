package org.pml4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerOptions;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.TensorVector;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code torch.optim.SGD(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False)} on LibTorch's
 * {@code torch::optim::SGD}, plus {@code loss_lr} for the loss-parameter group (see {@link OptimizerSpec}).
 */
public final class SGD extends OptimizerSpec {
  private final double momentum;
  private final double dampening;
  private final boolean nesterov;

  /** PyTorch's defaults with learning rate {@code lr}. */
  public SGD(double lr) {
    this(lr, 0, 0, 0, false, null);
  }

  /**
   * @param lossLr learning rate of the loss parameters, or null for {@code lr}
   * @throws IllegalArgumentException for negative values, or nesterov without momentum or with dampening (PyTorch's
   *     "Nesterov momentum requires a momentum and zero dampening")
   */
  public SGD(double lr, double momentum, double dampening, double weightDecay, boolean nesterov, Double lossLr) {
    super(lr, lossLr, weightDecay);
    requireNonNegative("momentum", momentum);
    if (!Double.isFinite(dampening)) {
      throw new IllegalArgumentException("Invalid dampening value: " + dampening);
    }
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
    }
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = nesterov;
  }

  /** {@code {"lr", "momentum", "dampening", "weight_decay", "nesterov", "loss_lr"}}. */
  public static SGD fromSpec(Params p) {
    return new SGD(p.getDouble("lr", 1e-3), p.getDouble("momentum", 0), p.getDouble("dampening", 0),
        p.getDouble("weight_decay", 0), p.getBool("nesterov", false), p.getDoubleOrNull("loss_lr"));
  }

  @Override
  protected OptimizerOptions options(double lr) {
    SGDOptions o = new SGDOptions(lr);
    o.momentum().put(momentum);
    o.dampening().put(dampening);
    o.weight_decay().put(weightDecay);
    o.nesterov().put(nesterov);
    return o;
  }

  @Override
  protected Optimizer create(TensorVector params, OptimizerOptions options) {
    return new org.bytedeco.pytorch.SGD(params, (SGDOptions) options);
  }

  @Override
  protected ObjectNode params() {
    ObjectNode n = baseParams();
    n.put("momentum", momentum);
    n.put("dampening", dampening);
    n.put("weight_decay", weightDecay);
    n.put("nesterov", nesterov);
    return n;
  }

  public double momentum() {
    return momentum;
  }

  public double dampening() {
    return dampening;
  }

  public boolean nesterov() {
    return nesterov;
  }
}
