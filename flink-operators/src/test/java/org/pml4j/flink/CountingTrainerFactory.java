package org.pml4j.flink;

import java.util.concurrent.atomic.AtomicInteger;
import org.pml4j.nn.Sequential;
import org.pml4j.train.CheckpointableTrainer;
import org.pml4j.train.StepResult;
import org.pml4j.train.TrainerConfig;

/**
 * The real trainer ({@link TrainerFactory#DEFAULT}, {@code Trainers.fromConfig}) wrapped so that tests can count the
 * restores done in this JVM (the fault-tolerance test checks that recovery really went through
 * {@link CheckpointableTrainer#restore}).
 */
final class CountingTrainerFactory {
  static final AtomicInteger RESTORES = new AtomicInteger();

  private CountingTrainerFactory() {}

  static TrainerFactory factory() {
    return config -> new Counting(TrainerFactory.DEFAULT.apply(config));
  }

  private static final class Counting implements CheckpointableTrainer {
    private final CheckpointableTrainer t;

    Counting(CheckpointableTrainer t) {
      this.t = t;
    }

    @Override
    public StepResult trainStep(float[][] features, long[] labels) {
      return t.trainStep(features, labels);
    }

    @Override
    public long steps() {
      return t.steps();
    }

    @Override
    public byte[] snapshot() {
      return t.snapshot();
    }

    @Override
    public void restore(byte[] state) {
      t.restore(state);
      RESTORES.incrementAndGet();
    }

    @Override
    public Sequential encoder() {
      return t.encoder();
    }

    @Override
    public TrainerConfig config() {
      return t.config();
    }

    @Override
    public void close() {
      t.close();
    }
  }
}
