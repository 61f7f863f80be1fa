package org.pml4j.train;

/**
 * The outcome of one training step.
 *
 * @param step the step number after this step (1 for the first); unchanged by a skipped step
 * @param loss the loss value of the step (NaN or the non-finite value when the step was skipped)
 * @param batchSize rows in the batch
 * @param queueFill filled slots of the CrossBatchMemory queue, or 0 without one
 * @param skipped null for a step that updated the model; else why the non-finite guard skipped it ("non-finite
 *     encoder output in 1 of 16 rows", "non-finite loss NaN", "non-finite gradient of encoder.0.weight")
 */
public record StepResult(long step, double loss, int batchSize, long queueFill, String skipped) {
  /** A step that updated the model. */
  public StepResult(long step, double loss, int batchSize, long queueFill) {
    this(step, loss, batchSize, queueFill, null);
  }

  /** Whether the non-finite guard skipped this step (no update). */
  public boolean wasSkipped() {
    return skipped != null;
  }
}
