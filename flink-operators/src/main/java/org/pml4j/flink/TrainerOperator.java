package org.pml4j.flink;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.torch.Torch;
import org.pml4j.train.CheckpointableTrainer;
import org.pml4j.train.EngineState;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.TrainingEngine;

/**
 * Online metric-learning trainer: the Flink adapter of a {@link TrainingEngine}, which collects labeled records into
 * micro-batches of {@code batchSize}, runs one {@link CheckpointableTrainer#trainStep} per batch and decides when a
 * version is due (every {@code publishEverySteps} steps or {@code publishEveryMillis} of wall time, checked after each
 * step, and at the end of the input; with {@code publishInitial} the untrained encoder first, as version 0). This
 * operator adds what is Flink's: the lifecycle, the state handle, the metric group and the output, where each due
 * version becomes a {@link ModelUpdate} (the encoder exported to ONNX by {@link OnnxExporter}, with
 * {@code model_version} and {@code training_step} metadata).
 *
 * <p><b>State.</b> On each checkpoint the operator writes the engine's {@link EngineState} (the trainer's
 * {@link CheckpointableTrainer#snapshot()}: parameters, optimizer, loss state, step counter, RNG; the partial batch;
 * the version counter, the last published step and the running totals) as one versioned entry
 * ({@link EngineStateSerializer}) into operator {@link ListState}; it reads entries of every earlier format version.
 * {@link #initializeState} rebuilds the trainer through the {@link TrainerFactory} and restores all of it, so with a
 * replayable source a restored job continues bit-identically: same batches, same steps, same parameters, same versions
 * (versions emitted between the checkpoint and a failure are emitted again, with the same content when the time
 * trigger is off; downstream operators ignore versions they have already seen).
 *
 * <p><b>Parallelism 1</b> ({@link #apply} sets it, and max parallelism 1): one model. For bit-identical recovery the
 * input order must be deterministic too (a parallelism-1 source, or one file / Kafka partition). At parallelism N > 1
 * the subtasks are data-parallel replicas of one model ({@link DataParallelTrainer}, {@link TrainerReplicas}).
 *
 * <p><b>Threads.</b> The trainer is built, stepped, snapshotted and closed on the task thread (LibTorch's grad mode
 * and thread settings are per thread); {@link Torch#setNumThreads} is set from {@link TrainerConfig#threads()}.
 *
 * <p><b>Why an operator and not a ProcessFunction:</b> the final model must be emitted when the input ends, and only
 * an operator sees that ({@link BoundedOneInput#endInput()}); a ProcessFunction has no end-of-input hook.
 *
 * <p><b>Metrics</b>: the operator group's are listed in {@link TrainerMetrics}.
 *
 * <p><b>Non-finite steps.</b> When the trainer's guard skips a step ({@link org.pml4j.train.StepResult#skipped()}: the
 * encoder output, loss or a gradient was not finite, e.g. a record of 3e38 values that overflows float32 in the
 * encoder), nothing of the model changes, the batch's records go to the side output {@link #REJECTED} with reason
 * {@link RejectedRecord#NONFINITE_STEP}, they are added to the {@link ValidateFunction#ACCUMULATOR} rejected count, and
 * the step is counted in {@link #SKIPPED_ACCUMULATOR} and the {@link #METRIC_SKIPPED_NONFINITE} metric.
 * The job goes on.
 */
public final class TrainerOperator extends AbstractStreamOperator<ModelUpdate>
    implements OneInputStreamOperator<LabeledVector, ModelUpdate>, BoundedOneInput {
  private static final long serialVersionUID = 1L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(TrainerOperator.class);
  /**
   * The side output of the records of batches the trainer skipped (reason {@link RejectedRecord#NONFINITE_STEP}): the
   * same tag as {@link ValidateFunction#REJECTED}.
   */
  public static final org.apache.flink.util.OutputTag<RejectedRecord> REJECTED = ValidateFunction.REJECTED;
  /** Job accumulator (a LongCounter): steps the trainer's non-finite guard skipped. */
  public static final String SKIPPED_ACCUMULATOR = "pml4j.skipped_nonfinite";
  /** ModelUpdate metric: steps skipped so far by the trainer's non-finite guard. */
  public static final String METRIC_SKIPPED_NONFINITE = TrainingEngine.METRIC_SKIPPED_NONFINITE;
  /** ModelUpdate metric: the mean loss of the steps since the previous version. */
  public static final String METRIC_LOSS = TrainingEngine.METRIC_LOSS;
  /** ModelUpdate metric: the loss of the version's last step. */
  public static final String METRIC_LAST_LOSS = TrainingEngine.METRIC_LAST_LOSS;
  /** ModelUpdate metric: samples trained so far. */
  public static final String METRIC_SAMPLES = TrainingEngine.METRIC_SAMPLES;
  /** ModelUpdate metric: wall time inside training steps so far. */
  public static final String METRIC_TRAIN_SECONDS = TrainingEngine.METRIC_TRAIN_SECONDS;
  /** ModelUpdate metric: filled CrossBatchMemory slots. */
  public static final String METRIC_QUEUE_FILL = TrainingEngine.METRIC_QUEUE_FILL;
  /** ModelUpdate metric: samples per second of training-step wall time. */
  public static final String METRIC_SAMPLES_PER_SEC = TrainingEngine.METRIC_SAMPLES_PER_SEC;
  /** ModelUpdate metric: CPU time of the task thread inside trainStep (wall time is {@link #METRIC_TRAIN_SECONDS}). */
  public static final String METRIC_TRAIN_CPU_SECONDS = TrainingEngine.METRIC_TRAIN_CPU_SECONDS;

  /**
   * When and how the trainer steps and publishes: the engine's {@link TrainingEngine.Settings} and the export check.
   *
   * @param batchSize records per training step (at least 2)
   * @param publishEverySteps publish after this many steps since the last publication (0: never by count)
   * @param publishEveryMillis publish when this much wall time has passed since the last publication, checked after
   *     each step (0: never by time; a time trigger makes the versions depend on timing)
   * @param publishInitial publish the untrained encoder as version 0 before the first step
   * @param trainFinalPartialBatch at the end of the input, train on the remaining records when there are at least 2
   *     (else they are dropped and the step count is {@code floor(records / batchSize)})
   * @param verifyExport check every export in ONNX Runtime against LibTorch ({@link OnnxExporter.ExportInfo#verify})
   */
  public record Settings(int batchSize, long publishEverySteps, long publishEveryMillis, boolean publishInitial,
      boolean trainFinalPartialBatch, boolean verifyExport, BackgroundPriority taskThreadPriority)
      implements Serializable {
    /**
     * Checks the values (as {@link TrainingEngine.Settings} does).
     *
     * @param taskThreadPriority the trainer's task thread's scheduling priority, set in {@code open} (low: latency
     *     work on the same cores, the retrieval shards, comes first; {@code retrieval.trainer_priority})
     */
    public Settings {
      new TrainingEngine.Settings(batchSize, publishEverySteps, publishEveryMillis, publishInitial,
          trainFinalPartialBatch);
      if (taskThreadPriority == null) {
        throw new IllegalArgumentException("trainer settings: taskThreadPriority is null");
      }
    }

    /** Settings whose task thread keeps its priority. */
    public Settings(int batchSize, long publishEverySteps, long publishEveryMillis, boolean publishInitial,
        boolean trainFinalPartialBatch, boolean verifyExport) {
      this(batchSize, publishEverySteps, publishEveryMillis, publishInitial, trainFinalPartialBatch, verifyExport,
          BackgroundPriority.NORMAL);
    }

    /** Publish every {@code everySteps} steps, the untrained model first, no time trigger, verified exports. */
    public static Settings of(int batchSize, long everySteps) {
      return new Settings(batchSize, everySteps, 0, true, false, true);
    }

    /** The engine's part. */
    public TrainingEngine.Settings engine() {
      return new TrainingEngine.Settings(batchSize, publishEverySteps, publishEveryMillis, publishInitial,
          trainFinalPartialBatch);
    }
  }

  /** ModelUpdate metric (data-parallel training): the number of trainer replicas. */
  public static final String METRIC_PARALLELISM = TrainerReplicas.METRIC_PARALLELISM;
  /** ModelUpdate metric (data-parallel training): 1 when every replica's parameter hash equals rank 0's, else 0. */
  public static final String METRIC_REPLICAS_IDENTICAL = TrainerReplicas.METRIC_REPLICAS_IDENTICAL;
  /** ModelUpdate metric (data-parallel training): rank 0's wall time in gradient all-reduces in this attempt. */
  public static final String METRIC_ALL_REDUCE_SECONDS = TrainerReplicas.METRIC_ALL_REDUCE_SECONDS;

  private final TrainerFactory factory;
  private final String configJson;
  private final Settings settings;
  private final TrainerReplicas.Spec replicaSpec;

  private transient TrainingEngine engine;
  private transient ListState<byte[]> state;
  private transient org.apache.flink.metrics.Counter skipped;
  private transient boolean restored;
  private transient TrainerReplicas replicas;

  public TrainerOperator(TrainerFactory factory, TrainerConfig config, Settings settings) {
    this(factory, TrainerConfigs.toJson(config), settings);
  }

  /** @param configJson the trainer config as {@link TrainerConfigs} JSON */
  public TrainerOperator(TrainerFactory factory, String configJson, Settings settings) {
    this(factory, configJson, settings, null);
  }

  /**
   * One replica of data-parallel training ({@link DataParallelTrainer}), or the plain trainer.
   *
   * @param settings the replica's settings: {@code batchSize} is the per-replica shard
   * @param replicaSpec the replica group, or null for the plain trainer (parallelism 1)
   */
  TrainerOperator(TrainerFactory factory, String configJson, Settings settings, TrainerReplicas.Spec replicaSpec) {
    this.factory = java.util.Objects.requireNonNull(factory, "factory");
    this.configJson = java.util.Objects.requireNonNull(configJson, "configJson");
    this.settings = java.util.Objects.requireNonNull(settings, "settings");
    this.replicaSpec = replicaSpec;
    TrainerConfigs.fromJson(configJson); // fail at job construction on a bad config
  }

  /**
   * Adds the trainer to a stream: {@code input → trainer (parallelism 1, uid "pml4j-trainer") → ModelUpdate}; for
   * N replicas see {@link DataParallelTrainer#apply}.
   */
  public static SingleOutputStreamOperator<ModelUpdate> apply(DataStream<LabeledVector> input, TrainerFactory factory,
      TrainerConfig config, Settings settings) {
    return input.transform("pml4j-trainer", TypeInformation.of(ModelUpdate.class),
        new TrainerOperator(factory, config, settings)).uid("pml4j-trainer").setParallelism(1).setMaxParallelism(1);
  }

  /** The per-replica settings ({@code batchSize} is this replica's shard). */
  public Settings settings() {
    return settings;
  }

  @Override
  public void initializeState(StateInitializationContext context) throws Exception {
    super.initializeState(context);
    state = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("pml4j-trainer-state", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
    TrainerConfig parsed = TrainerConfigs.fromJson(configJson);
    // A replica of device=cuda takes cuda:(rank % devices), so the replicas of one host spread over its GPUs (NCCL
    // needs one per rank).
    TrainerConfig config = replicaSpec == null ? parsed
        : org.pml4j.train.Trainers.forRank(parsed, getRuntimeContext().getTaskInfo().getIndexOfThisSubtask());
    Torch.ensureLoaded();
    Torch.setNumThreads(Math.max(1, config.threads()));
    CheckpointableTrainer built = TrainerReplicas.build(() -> factory.apply(config));
    engine = new TrainingEngine(built, settings.engine(), new TrainingEngine.Listener() {
      @Override
      public void publish(TrainingEngine.Publication p, CheckpointableTrainer trainer) {
        emit(p, trainer);
      }

      @Override
      public void skippedStep(List<TrainingEngine.TrainingRecord> records, String reason) {
        rejectBatch(records, reason);
      }
    });
    List<byte[]> blobs = new ArrayList<>();
    if (context.isRestored()) {
      state.get().forEach(blobs::add);
    }
    if (blobs.size() > 1) {
      throw new IllegalStateException("trainer state has " + blobs.size() + " entries; each trainer subtask writes"
          + " one");
    }
    restored = blobs.size() == 1;
    if (restored) {
      engine.restore(EngineStateSerializer.fromEntry(blobs.get(0)));
      LOGGER.info("pml4j trainer restored: step {}, {} buffered records, next version {}", engine.steps(),
          engine.metrics().batchFill(), engine.metrics().lastVersion() + 1);
    }
    if (replicaSpec != null) { // after the restore: rank 0's restored parameters are broadcast
      replicas = TrainerReplicas.join(engine.trainer(), replicaSpec, getRuntimeContext());
    }
  }

  @Override
  public void open() throws Exception {
    super.open();
    settings.taskThreadPriority().applyToCurrentThread(); // NORMAL: unchanged
    skipped = TrainerMetrics.register(getMetricGroup(), () -> engine, replicas);
    engine.restartPublishTimer();
  }

  @Override
  public void processElement(StreamRecord<LabeledVector> element) {
    LabeledVector v = element.getValue();
    String why = v == null ? engine.offer(-1, null, null) : engine.offer(v.id, v.label, v.features);
    if (why != null) {
      skipped.inc();
    }
  }

  /** The engine's publication: export the encoder now and emit it. */
  private void emit(TrainingEngine.Publication p, CheckpointableTrainer trainer) {
    java.util.Map<String, Double> metrics = replicas == null ? p.metrics() : replicas.publication(p);
    if (metrics == null) {
      return; // not rank 0
    }
    byte[] onnx = OnnxExporter.export(trainer.encoder(),
        new OnnxExporter.ExportInfo(p.version(), p.step(), java.util.Map.of(), settings.verifyExport()));
    output.collect(new StreamRecord<>(new ModelUpdate(p.version(), p.step(), onnx, metrics,
        p.createdAtMillis())));
  }

  /** The records of a step the trainer's non-finite guard skipped, to the rejected side output. */
  private void rejectBatch(List<TrainingEngine.TrainingRecord> records, String reason) {
    LOGGER.warn("pml4j trainer: step skipped ({}); {} records to the rejected output", reason, records.size());
    String detail = "training step skipped: " + reason + " (batch of " + records.size() + " records)";
    for (TrainingEngine.TrainingRecord r : records) {
      LabeledVector v = new LabeledVector(r.id(), r.label(), r.features());
      output.collect(REJECTED, new StreamRecord<>(new RejectedRecord(v, RejectedRecord.NONFINITE_STEP, detail)));
    }
  }

  @Override
  public void endInput() {
    int dropped = engine.endInput();
    if (dropped > 0) {
      LOGGER.info("pml4j trainer: {} records at the end of the input do not fill a batch of {}; not trained",
          dropped, settings.batchSize());
    }
  }

  @Override
  public void snapshotState(StateSnapshotContext context) throws Exception {
    super.snapshotState(context);
    state.update(List.of(EngineStateSerializer.toEntry(engine.snapshot())));
  }

  @Override
  public void close() throws Exception {
    // Called on the normal end of the last attempt: publish the (restored + new) totals once.
    if (engine != null && getRuntimeContext() != null) {
      TrainingEngine.Metrics m = engine.metrics();
      getRuntimeContext().getLongCounter(ValidateFunction.ACCUMULATOR).add(m.nonfiniteRecords());
      if (replicas == null || replicas.rank() == 0) { // replicas skip the same steps: count them once
        getRuntimeContext().getLongCounter(SKIPPED_ACCUMULATOR).add(m.skippedNonfinite());
      }
    }
    try (TrainerReplicas group = replicas; TrainingEngine e = engine) { // closes the engine, then the group
      engine = null;
      replicas = null;
    } finally {
      super.close();
    }
  }

  /** Whether this instance restored its state from a checkpoint (for tests and logs). */
  public boolean wasRestored() {
    return restored;
  }

  /** The engine (for tests; null before {@link #initializeState} and after {@link #close()}). */
  TrainingEngine engine() {
    return engine;
  }
}
