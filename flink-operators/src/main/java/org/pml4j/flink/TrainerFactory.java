package org.pml4j.flink;

import java.io.Serializable;
import java.util.function.Function;
import org.pml4j.train.CheckpointableTrainer;
import org.pml4j.train.TrainerConfig;

/**
 * Builds the trainer that a {@link TrainerOperator} drives: a serializable {@code Function<TrainerConfig,
 * CheckpointableTrainer>}, shipped to the task with the job and called there (on the task thread, which then owns the
 * trainer). {@code Trainers::fromConfig} (org.pml4j.train) is the intended implementation; {@link #DEFAULT} finds it
 * at run time.
 */
@FunctionalInterface
public interface TrainerFactory extends Function<TrainerConfig, CheckpointableTrainer>, Serializable {

  /**
   * {@code org.pml4j.train.Trainers.fromConfig(TrainerConfig)}, looked up reflectively when first called so that this
   * module compiles and runs its tests without it.
   */
  TrainerFactory DEFAULT = config -> {
    java.lang.reflect.Method m;
    try {
      m = Class.forName("org.pml4j.train.Trainers").getMethod("fromConfig", TrainerConfig.class);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("no trainer implementation on the class path: org.pml4j.train.Trainers"
          + ".fromConfig(TrainerConfig) was not found; pass a TrainerFactory explicitly", e);
    }
    try {
      return (CheckpointableTrainer) m.invoke(null, config);
    } catch (java.lang.reflect.InvocationTargetException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(c);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  };
}
