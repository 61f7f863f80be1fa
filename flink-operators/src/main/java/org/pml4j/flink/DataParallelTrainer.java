package org.pml4j.flink;

import java.nio.file.Path;
import java.time.Duration;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.pml4j.torch.Torch;
import org.pml4j.train.TrainerConfig;

/**
 * The topology of data-parallel training (issue 13): {@code input → GlobalBatchCutter (p=1) → shard i to replica i →
 * N trainer replicas} ({@link TrainerOperator}s whose subtasks form a {@link TrainerReplicas} group per attempt).
 */
public final class DataParallelTrainer {
  private DataParallelTrainer() {}

  /** The flush interval of the global batches' output (ms); see {@link #apply}. */
  static final long GLOBAL_BATCH_FLUSH_MILLIS = 1;

  /**
   * Adds the trainer at {@code parallelism} replicas: with 1, exactly {@link TrainerOperator#apply(DataStream,
   * TrainerFactory, TrainerConfig, TrainerOperator.Settings)}; with N > 1, N replicas, each stepping on its
   * {@code batchSize / N} records of every global batch of {@code batchSize}, averaging gradients over a Gloo group
   * (ranks = subtask indices, rendezvous through {@code rendezvousDir}, see {@link FileRendezvous}); only rank 0
   * publishes, with {@link TrainerOperator#METRIC_PARALLELISM} and {@link TrainerOperator#METRIC_REPLICAS_IDENTICAL} in
   * the metrics and {@code samples} counting all replicas' records. The last partial global batch is dropped.
   *
   * @throws IllegalArgumentException when {@code parallelism} is below 1, when {@code batchSize} is not a multiple of
   *     N with at least 2 records per replica, when the time trigger is on (replicas would publish at different steps),
   *     or when {@code rendezvousDir} is null
   */
  public static SingleOutputStreamOperator<ModelUpdate> apply(DataStream<LabeledVector> input, TrainerFactory factory,
      TrainerConfig config, TrainerOperator.Settings settings, int parallelism, Path rendezvousDir) {
    return apply(input, factory, config, settings, parallelism, rendezvousDir, TrainerReplicas.BIND_TASKMANAGER);
  }

  /**
   * As {@link #apply(DataStream, TrainerFactory, TrainerConfig, TrainerOperator.Settings, int, Path)}, the replicas
   * binding where {@code bindHost} says ({@link TrainerReplicas#bindAddress}: {@code taskmanager}, the default, {@code
   * hostname}, or a host name or address).
   */
  public static SingleOutputStreamOperator<ModelUpdate> apply(DataStream<LabeledVector> input, TrainerFactory factory,
      TrainerConfig config, TrainerOperator.Settings settings, int parallelism, Path rendezvousDir, String bindHost) {
    return apply(input, factory, config, settings, parallelism, rendezvousDir, bindHost,
        TrainerReplicas.DEFAULT_TIMEOUT, false);
  }

  /**
   * As {@link #apply(DataStream, TrainerFactory, TrainerConfig, TrainerOperator.Settings, int, Path, String)}, with
   * the replicas' timeout (forming the group and each collective; a lost peer fails the task after it) and PML's
   * {@code efficient} choice for the distributed loss and miner ({@code false}, PML's default: every replica computes
   * the whole gathered batch, so the replicas train exactly as one trainer on the global batch; {@code true}: local
   * anchors against the gathered batch, 1/N of the O(B²) work per replica, PML's "efficient" gradient).
   */
  public static SingleOutputStreamOperator<ModelUpdate> apply(DataStream<LabeledVector> input, TrainerFactory factory,
      TrainerConfig config, TrainerOperator.Settings settings, int parallelism, Path rendezvousDir, String bindHost,
      Duration timeout, boolean efficient) {
    if (parallelism < 1) {
      throw new IllegalArgumentException("trainer parallelism must be >= 1, got " + parallelism);
    }
    if (parallelism == 1) {
      return TrainerOperator.apply(input, factory, config, settings);
    }
    if (settings.batchSize() % parallelism != 0 || settings.batchSize() / parallelism < 2) {
      throw new IllegalArgumentException("batch_size " + settings.batchSize() + " must be a multiple of the trainer"
          + " parallelism " + parallelism + " with at least 2 records per replica");
    }
    if (settings.publishEveryMillis() > 0) {
      throw new IllegalArgumentException("publishing by time (publishEveryMillis " + settings.publishEveryMillis()
          + ") is not supported with trainer parallelism > 1: replicas must publish at the same steps");
    }
    int shard = settings.batchSize() / parallelism;
    TrainerOperator.Settings replica = new TrainerOperator.Settings(shard, settings.publishEverySteps(), 0,
        settings.publishInitial(), false, settings.verifyExport());
    int inputSize;
    Torch.ensureLoaded();
    try (org.pml4j.torch.Scope s = org.pml4j.torch.Scope.open()) {
      inputSize = Math.toIntExact(org.pml4j.spec.Registry.build(config.encoder(), org.pml4j.nn.Sequential.class)
          .inputSize());
    }
    return input.process(new GlobalBatchCutter(parallelism, shard, inputSize), GlobalBatchCutter.type())
        .name("pml4j-global-batches").uid("pml4j-global-batches").setParallelism(1).setMaxParallelism(1)
        // A global batch is emitted at once and then nothing until the next one is complete: without a short flush
        // interval its last records would wait in part-filled network buffers for Flink's default 100 ms, a stall of
        // every step. 1 ms bounds that wait.
        .setBufferTimeout(GLOBAL_BATCH_FLUSH_MILLIS)
        .partitionCustom(new GlobalBatchCutter.ToReplica(), new GlobalBatchCutter.Replica())
        .map(new GlobalBatchCutter.Record()).returns(TypeInformation.of(LabeledVector.class))
        .name("pml4j-shards").uid("pml4j-shards").setParallelism(parallelism).setMaxParallelism(parallelism)
        .transform("pml4j-trainer", TypeInformation.of(ModelUpdate.class),
            new TrainerOperator(factory, TrainerConfigs.toJson(config), replica,
                new TrainerReplicas.Spec(parallelism, rendezvousDir, timeout, bindHost, efficient)))
        .uid("pml4j-trainer").setParallelism(parallelism).setMaxParallelism(parallelism);
  }
}
