package org.pml4j.train;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerOptions;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Torch;

/**
 * The configuration of a LibTorch optimizer ({@link SGD}, {@link Adam}, {@link AdamW}), built from a spec such as
 * {@code {"class": "Adam", "params": {"lr": 1e-3}}}. {@link #build} makes the optimizer over the encoder's parameters
 * and, in a second parameter group with its own learning rate {@code loss_lr} (default: {@code lr}), the loss's
 * learnable parameters (ArcFace's {@code W}, proxies, ...), as PML trains them with a separate optimizer.
 *
 * <p>Immutable; one spec builds any number of optimizers.
 */
public abstract class OptimizerSpec {
  protected final double lr;
  protected final double lossLr;
  protected final double weightDecay;

  protected OptimizerSpec(double lr, Double lossLr, double weightDecay) {
    requireNonNegative("lr", lr);
    requireNonNegative("weight_decay", weightDecay);
    if (lossLr != null) {
      requireNonNegative("loss_lr", lossLr);
    }
    this.lr = lr;
    this.lossLr = lossLr == null ? lr : lossLr;
    this.weightDecay = weightDecay;
  }

  static void requireNonNegative(String name, double v) {
    if (!(v >= 0) || Double.isInfinite(v)) {
      throw new IllegalArgumentException("Invalid " + name + " value: " + v + " (must be a finite number >= 0)");
    }
  }

  /** LibTorch options of this optimizer with the given learning rate. */
  protected abstract OptimizerOptions options(double lr);

  /** A LibTorch optimizer over one parameter group. */
  protected abstract Optimizer create(TensorVector params, OptimizerOptions options);

  /** This optimizer's spec params, every parameter written out. */
  protected abstract ObjectNode params();

  /** {@code {"class": ..., "params": {...}}}, accepted by {@code Registry.build}. */
  public final ObjectNode toSpec() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("class", getClass().getSimpleName());
    n.set("params", params());
    return n;
  }

  /**
   * Makes the optimizer.
   *
   * @param params the encoder's (and classifier's) parameters: group 0, learning rate {@code lr}
   * @param lossParams the loss's parameters: group 1, learning rate {@code loss_lr}; no group when empty
   * @throws IllegalArgumentException when {@code params} is empty
   */
  public TrainOptimizer build(List<Tensor> params, List<Tensor> lossParams) {
    Torch.ensureLoaded();
    if (params == null || params.isEmpty()) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": no parameters to optimize");
    }
    Owner natives = new Owner();
    int groups = 1;
    // The vectors, options and the group are copied by LibTorch (the optimizer holds its own handles of the
    // parameters and its own options): the scope frees them now; the optimizer alone is owned.
    try (Scope s = Scope.open()) {
      Optimizer opt = natives.own(create(new TensorVector(params.toArray(new Tensor[0])), options(lr)));
      if (lossParams != null && !lossParams.isEmpty()) {
        // The group takes a copy of the defaults (group 0's options), then its own learning rate: the same options
        // as options(lossLr), without handing LibTorch a unique_ptr of ours.
        opt.add_param_group(new OptimizerParamGroup(new TensorVector(lossParams.toArray(new Tensor[0]))));
        opt.param_groups().get(1).options().set_lr(lossLr);
        groups = 2;
      }
      return new TrainOptimizer(natives, opt, groups, this);
    } catch (RuntimeException e) {
      natives.close();
      throw e;
    }
  }

  protected final ObjectNode baseParams() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("lr", lr);
    n.put("loss_lr", lossLr);
    return n;
  }

  public double lr() {
    return lr;
  }

  /** Learning rate of the loss-parameter group. */
  public double lossLr() {
    return lossLr;
  }

  public double weightDecay() {
    return weightDecay;
  }

  @Override
  public String toString() {
    return toSpec().toString();
  }
}
