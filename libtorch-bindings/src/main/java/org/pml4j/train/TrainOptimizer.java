package org.pml4j.train;

import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OutputArchive;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Scope;

/**
 * A LibTorch optimizer built by an {@link OptimizerSpec}: {@link #zeroGrad()}, {@link #step()}, and its state (the
 * per-parameter moments, momentum buffers and step counts) as bytes through LibTorch's own serialization
 * ({@code OutputArchive}/{@code InputArchive}). Parameter groups: 0 = encoder (and classifier), 1 = loss parameters
 * (when the loss has any).
 *
 * <p>The native optimizer is held by an {@link Owner}, outside any {@link Scope}; {@link #close()} frees it.
 */
public final class TrainOptimizer implements AutoCloseable {
  private final Owner natives;
  private final Optimizer optimizer;
  private final int groups;
  private final OptimizerSpec spec;

  TrainOptimizer(Owner natives, Optimizer optimizer, int groups, OptimizerSpec spec) {
    this.natives = natives;
    this.optimizer = optimizer;
    this.groups = groups;
    this.spec = spec;
  }

  /** Clears the gradients of every parameter (LibTorch's {@code zero_grad(set_to_none=true)}). */
  public void zeroGrad() {
    optimizer.zero_grad(true);
  }

  /** One update from the current gradients. */
  public void step() {
    try (Scope s = Scope.open()) {
      optimizer.step();
    }
  }

  /** The optimizer's state, bit-exact (LibTorch's serialization of the optimizer). */
  public byte[] saveState() {
    try (Scope s = Scope.open()) {
      OutputArchive archive = new OutputArchive();
      optimizer.save(archive);
      return Archives.toBytes(archive);
    }
  }

  /**
   * Restores a {@link #saveState()} of an optimizer of the same kind over parameters of the same shapes.
   *
   * @throws IllegalArgumentException when LibTorch cannot read the bytes into this optimizer
   */
  public void loadState(byte[] state) {
    loadState(state, null);
  }

  /**
   * As {@link #loadState(byte[])}, with the archive's tensors read onto {@code device} (LibTorch's {@code
   * map_location}), wherever they were saved: the device of this optimizer's parameters, or null to keep the saved
   * devices (the CPU path).
   *
   * @throws IllegalArgumentException when LibTorch cannot read the bytes into this optimizer
   */
  public void loadState(byte[] state, org.bytedeco.pytorch.Device device) {
    try (Scope s = Scope.open()) {
      InputArchive archive = Archives.fromBytes(state, device);
      try {
        optimizer.load(archive);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("optimizer state does not fit this " + spec.getClass().getSimpleName()
            + ": " + e.getMessage(), e);
      }
    }
  }

  /** Number of parameter groups (1, or 2 with loss parameters). */
  public int groups() {
    return groups;
  }

  /** The learning rate of a parameter group. */
  public double lr(int group) {
    return optimizer.param_groups().get(group).options().get_lr();
  }

  /** Sets the learning rate of a parameter group (for schedules). */
  public void setLr(int group, double lr) {
    OptimizerSpec.requireNonNegative("lr", lr);
    optimizer.param_groups().get(group).options().set_lr(lr);
  }

  /** The spec this optimizer was built from. */
  public OptimizerSpec spec() {
    return spec;
  }

  /** The LibTorch optimizer. */
  public Optimizer unwrap() {
    return optimizer;
  }

  /**
   * Frees the native optimizer and so its state (moments, momentum buffers, step counts) and its handles of the
   * parameters of both groups, now. Idempotent.
   */
  @Override
  public void close() {
    natives.close();
  }
}
