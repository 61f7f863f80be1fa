package org.pml4j.flink;

import java.util.function.Supplier;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.pml4j.train.TrainingEngine;

/**
 * The {@link TrainerOperator}'s Flink metrics, read from its {@link TrainingEngine#metrics()}: {@code loss}, {@code
 * stepsPerSecond}, {@code samplesPerSecond}, {@code steps}, {@code samples}, {@code queueFill} (the CrossBatchMemory
 * queue), {@code batchFill} (records waiting for the next step), {@code modelVersion} (last published), {@code
 * stepMillis} (last step), {@code skipped} (records the trainer could not use: wrong width, no label, non-finite;
 * validate upstream), {@code skipped_nonfinite} (steps skipped); with data-parallel replicas also {@code
 * allReduceMillis} and {@code allReduceBytesPerStep} per replica ({@link TrainerReplicas#registerMetrics}).
 */
final class TrainerMetrics {
  private TrainerMetrics() {}

  /**
   * Registers the metrics on {@code g}.
   *
   * @param engine the operator's current engine (read when a metric is reported)
   * @param replicas the replica group, or null at parallelism 1
   * @return the {@code skipped} counter, which the operator increments
   */
  static Counter register(MetricGroup g, Supplier<TrainingEngine> engine, TrainerReplicas replicas) {
    Counter steps = g.counter("steps", new EngineCounter(() -> engine.get().steps()));
    Counter samples = g.counter("samples", new EngineCounter(() -> engine.get().metrics().samples()));
    Counter skipped = g.counter("skipped");
    g.counter(TrainingEngine.METRIC_SKIPPED_NONFINITE,
        new EngineCounter(() -> engine.get().metrics().skippedNonfinite()));
    g.meter("stepsPerSecond", new MeterView(steps, 10));
    g.meter("samplesPerSecond", new MeterView(samples, 10));
    g.gauge(TrainingEngine.METRIC_LOSS, (Gauge<Double>) () -> engine.get().metrics().lastLoss());
    g.gauge("queueFill", (Gauge<Long>) () -> engine.get().metrics().queueFill());
    g.gauge("batchFill", (Gauge<Integer>) () -> engine.get().metrics().batchFill());
    g.gauge("modelVersion", (Gauge<Long>) () -> engine.get().metrics().lastVersion());
    g.gauge("stepMillis", (Gauge<Double>) () -> engine.get().metrics().lastStepMillis());
    if (replicas != null) {
      replicas.registerMetrics(g);
    }
    return skipped;
  }
}
