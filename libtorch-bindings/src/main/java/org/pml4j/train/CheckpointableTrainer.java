package org.pml4j.train;

import org.pml4j.nn.Sequential;

/**
 * A metric-learning trainer whose whole state can be written to bytes and restored, so that a run continues
 * bit-identically after a restore: the unit that the Flink trainer operator drives and checkpoints.
 *
 * <p>Not thread-safe: one trainer belongs to one thread (LibTorch's grad mode is thread-local).
 */
public interface CheckpointableTrainer extends AutoCloseable {
  /**
   * One optimization step on a labeled batch. A step whose encoder output, loss or gradient is not finite changes
   * nothing and is reported, not thrown ({@link StepResult#skipped()}; see {@link BaseTrainer#trainStep}).
   *
   * @param features {@code [B][inputSize]} inputs
   * @param labels {@code [B]} class labels
   * @return the step's outcome
   * @throws IllegalArgumentException on a batch of the wrong width, non-finite values or a label count mismatch
   */
  StepResult trainStep(float[][] features, long[] labels);

  /** Steps done so far (restored by {@link #restore}). */
  long steps();

  /**
   * Everything needed to continue bit-identically: encoder parameters and buffers, optimizer state, loss parameters,
   * the CrossBatchMemory queue and pointer, the step counter and the RNG state.
   */
  byte[] snapshot();

  /**
   * Restores a {@link #snapshot()} taken from a trainer of the same configuration.
   *
   * @throws IllegalArgumentException when the bytes do not fit this configuration
   */
  void restore(byte[] state);

  /** The encoder being trained (for export and evaluation). */
  Sequential encoder();

  /** The configuration this trainer was built from (specs as JSON). */
  TrainerConfig config();

  @Override
  void close();
}
