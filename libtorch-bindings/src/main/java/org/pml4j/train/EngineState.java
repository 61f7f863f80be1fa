package org.pml4j.train;

import java.util.List;
import java.util.Objects;

/**
 * Everything a {@link TrainingEngine} needs to continue where it stopped: what {@link TrainingEngine#snapshot()}
 * returns and {@link TrainingEngine#restore} takes. Written as bytes by {@link EngineStateCodec}.
 *
 * @param trainer the trainer's {@link CheckpointableTrainer#snapshot()} (parameters, optimizer, loss state, memory
 *     queue, step counter, RNG states)
 * @param batch the records waiting for the next step, in arrival order
 * @param nextVersion the version the next publication gets
 * @param lastPublishedStep the step of the last publication (-1 before the first)
 * @param initialDone whether the first record has been seen (version 0 is then no longer due)
 * @param samples records trained on
 * @param trainNanos wall time inside steps
 * @param trainCpuNanos CPU time of the stepping thread inside steps
 * @param lastLoss loss of the last step
 * @param lossSum sum of the step losses since the last version
 * @param lossSteps steps since the last version
 * @param queueFill filled CrossBatchMemory slots after the last step
 */
public record EngineState(byte[] trainer, List<TrainingEngine.TrainingRecord> batch, long nextVersion,
    long lastPublishedStep, boolean initialDone, long samples, long trainNanos, long trainCpuNanos, double lastLoss,
    double lossSum, long lossSteps, long queueFill) {
  /** Checks for nulls and copies the batch list. */
  public EngineState {
    Objects.requireNonNull(trainer, "trainer");
    batch = List.copyOf(Objects.requireNonNull(batch, "batch"));
  }
}
