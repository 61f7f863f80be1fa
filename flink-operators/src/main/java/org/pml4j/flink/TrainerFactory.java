package org.pml4j.flink;

import java.io.Serializable;
import java.util.function.Function;
import org.pml4j.train.CheckpointableTrainer;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;

/**
 * Builds the trainer that a {@link TrainerOperator} drives: a serializable {@code Function<TrainerConfig,
 * CheckpointableTrainer>}, shipped to the task with the job and called there (on the task thread, which then owns the
 * trainer). {@link #DEFAULT} is {@link Trainers#fromConfig(TrainerConfig)}.
 */
@FunctionalInterface
public interface TrainerFactory extends Function<TrainerConfig, CheckpointableTrainer>, Serializable {

  /**
   * {@link Trainers#fromConfig(TrainerConfig)}: a {@code MetricLossTrainer}, or a {@code TrainWithClassifier} when the
   * loss spec is that wrapper.
   */
  TrainerFactory DEFAULT = Trainers::fromConfig;
}
