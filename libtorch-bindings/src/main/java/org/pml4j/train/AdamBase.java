package org.pml4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What {@link Adam} and {@link AdamW} share: {@code betas}, {@code eps}, {@code amsgrad} (checked as PyTorch checks
 * them) and their spec form. The two differ only in the LibTorch optimizer they build and in how weight decay acts
 * (added to the gradient, or decoupled).
 */
public abstract class AdamBase extends OptimizerSpec {
  protected final double beta1;
  protected final double beta2;
  protected final double eps;
  protected final boolean amsgrad;

  /**
   * @throws IllegalArgumentException for values PyTorch rejects (negative lr, eps or weight decay, betas outside
   *     [0, 1))
   */
  protected AdamBase(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad,
      Double lossLr) {
    super(lr, lossLr, weightDecay);
    AdamBetas.check(beta1, beta2, eps);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.amsgrad = amsgrad;
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
