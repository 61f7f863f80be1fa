package org.pml4j.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.pml4j.data.LabeledDataset;
import org.pml4j.samplers.MPerClassSampler;

/**
 * The epoch loop shared by {@code pml4j train} and {@code pml4j bench}: an epoch's batches (PML's DataLoader with
 * {@code shuffle=True}, or batches from an {@link MPerClassSampler}) and running them through a {@link TrainingEngine}
 * (the same engine, step and accounting as the streaming trainer).
 */
public final class Epochs {
  private Epochs() {}

  /** Called after each step. */
  @FunctionalInterface
  public interface StepListener {
    /** @param r the step's result */
    void onStep(StepResult r);
  }

  /**
   * What one pass did.
   *
   * @param steps steps run
   * @param seconds wall time of the pass (batch selection included)
   * @param lastLoss loss of the last step (NaN when none ran)
   * @param lossSum sum of the step losses
   */
  public record Stats(long steps, double seconds, double lastLoss, double lossSum) {
    /** Steps per second. */
    public double stepsPerSecond() {
      return steps / seconds;
    }

    /** Mean step loss. */
    public double meanLoss() {
      return lossSum / steps;
    }
  }

  /**
   * One epoch's batches of row indices: the sampler's pass cut into full batches of {@code batchSize}, or (no
   * sampler) a Fisher-Yates shuffle of {@code 0..rows-1} cut into batches, the last one kept when it has at least 2
   * rows.
   *
   * @param rows rows in the dataset
   * @param sampler an MPerClassSampler, or null for a plain shuffle
   * @param batchSize rows per batch (>= 2)
   * @param rng the shuffle's randomness (use the trainer's {@link BaseTrainer#random()} for resumable runs)
   */
  public static List<int[]> batches(int rows, MPerClassSampler sampler, int batchSize, Random rng) {
    if (batchSize < 2) {
      throw new IllegalArgumentException("batch size must be >= 2, got " + batchSize);
    }
    int[] order;
    if (sampler != null) {
      order = sampler.epoch();
    } else {
      order = new int[rows];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      for (int i = order.length - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    List<int[]> out = new ArrayList<>();
    for (int from = 0; from < order.length; from += batchSize) {
      int n = Math.min(batchSize, order.length - from);
      if (n >= 2 && (sampler == null || n == batchSize)) {
        out.add(Arrays.copyOfRange(order, from, from + n));
      }
    }
    return out;
  }

  /**
   * Runs {@code batches} of {@code data} through {@code engine}, one {@link TrainingEngine#step} each.
   *
   * @param listener called after every step, or null
   */
  public static Stats run(TrainingEngine engine, LabeledDataset data, List<int[]> batches, StepListener listener) {
    Objects.requireNonNull(engine, "engine");
    double last = Double.NaN;
    double sum = 0;
    long t0 = System.nanoTime();
    for (int[] idx : batches) {
      LabeledDataset b = data.select(idx);
      StepResult r = engine.step(b.features(), b.labels());
      last = r.loss();
      sum += r.loss();
      if (listener != null) {
        listener.onStep(r);
      }
    }
    return new Stats(batches.size(), (System.nanoTime() - t0) / 1e9, last, sum);
  }
}
