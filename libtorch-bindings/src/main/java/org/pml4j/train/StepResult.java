package org.pml4j.train;

/**
 * The outcome of one training step.
 *
 * @param step the step number after this step (1 for the first)
 * @param loss the loss value of the step
 * @param batchSize rows in the batch
 * @param queueFill filled slots of the CrossBatchMemory queue, or 0 without one
 */
public record StepResult(long step, double loss, int batchSize, long queueFill) {}
