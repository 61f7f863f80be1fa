package org.pml4j.flink;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.groups.OperatorMetricGroup;
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
 * input order must be deterministic too (a parallelism-1 source, or one file / Kafka partition).
 *
 * <p><b>Threads.</b> The trainer is built, stepped, snapshotted and closed on the task thread (LibTorch's grad mode
 * and thread settings are per thread); {@link Torch#setNumThreads} is set from {@link TrainerConfig#threads()}.
 *
 * <p><b>Why an operator and not a ProcessFunction:</b> the final model must be emitted when the input ends, and only
 * an operator sees that ({@link BoundedOneInput#endInput()}); a ProcessFunction has no end-of-input hook.
 *
 * <p><b>Metrics</b> (operator group, read from {@link TrainingEngine#metrics()}): {@code loss}, {@code stepsPerSecond},
 * {@code samplesPerSecond}, {@code steps}, {@code samples}, {@code queueFill} (the CrossBatchMemory queue),
 * {@code batchFill} (records waiting for the next step), {@code modelVersion} (last published), {@code stepMillis}
 * (last step), {@code skipped} (records the trainer could not use: wrong width, no label, non-finite; validate
 * upstream).
 */
public final class TrainerOperator extends AbstractStreamOperator<ModelUpdate>
    implements OneInputStreamOperator<LabeledVector, ModelUpdate>, BoundedOneInput {
  private static final long serialVersionUID = 1L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(TrainerOperator.class);
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
      boolean trainFinalPartialBatch, boolean verifyExport) implements Serializable {
    /** Checks the values (as {@link TrainingEngine.Settings} does). */
    public Settings {
      engine(batchSize, publishEverySteps, publishEveryMillis, publishInitial, trainFinalPartialBatch);
    }

    /** Publish every {@code everySteps} steps, the untrained model first, no time trigger, verified exports. */
    public static Settings of(int batchSize, long everySteps) {
      return new Settings(batchSize, everySteps, 0, true, false, true);
    }

    /** The engine's part. */
    public TrainingEngine.Settings engine() {
      return engine(batchSize, publishEverySteps, publishEveryMillis, publishInitial, trainFinalPartialBatch);
    }

    private static TrainingEngine.Settings engine(int batchSize, long publishEverySteps, long publishEveryMillis,
        boolean publishInitial, boolean trainFinalPartialBatch) {
      return new TrainingEngine.Settings(batchSize, publishEverySteps, publishEveryMillis, publishInitial,
          trainFinalPartialBatch);
    }
  }

  private final TrainerFactory factory;
  private final String configJson;
  private final Settings settings;

  private transient TrainingEngine engine;
  private transient ListState<byte[]> state;
  private transient Counter skipped;
  private transient boolean restored;

  public TrainerOperator(TrainerFactory factory, TrainerConfig config, Settings settings) {
    this(factory, TrainerConfigs.toJson(config), settings);
  }

  /** @param configJson the trainer config as {@link TrainerConfigs} JSON */
  public TrainerOperator(TrainerFactory factory, String configJson, Settings settings) {
    this.factory = java.util.Objects.requireNonNull(factory, "factory");
    this.configJson = java.util.Objects.requireNonNull(configJson, "configJson");
    this.settings = java.util.Objects.requireNonNull(settings, "settings");
    TrainerConfigs.fromJson(configJson); // fail at job construction on a bad config
  }

  /**
   * Adds the trainer to a stream: {@code input → trainer (parallelism 1, uid "pml4j-trainer") → ModelUpdate}.
   */
  public static SingleOutputStreamOperator<ModelUpdate> apply(DataStream<LabeledVector> input, TrainerFactory factory,
      TrainerConfig config, Settings settings) {
    return input.transform("pml4j-trainer", TypeInformation.of(ModelUpdate.class),
        new TrainerOperator(factory, config, settings)).uid("pml4j-trainer").setParallelism(1).setMaxParallelism(1);
  }

  public Settings settings() {
    return settings;
  }

  @Override
  public void initializeState(StateInitializationContext context) throws Exception {
    super.initializeState(context);
    state = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("pml4j-trainer-state", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
    TrainerConfig config = TrainerConfigs.fromJson(configJson);
    Torch.ensureLoaded();
    Torch.setNumThreads(Math.max(1, config.threads()));
    engine = new TrainingEngine(factory.apply(config), settings.engine(), this::emit);
    restored = false;
    if (context.isRestored()) {
      List<byte[]> blobs = new ArrayList<>();
      for (byte[] b : state.get()) {
        blobs.add(b);
      }
      if (blobs.size() > 1) {
        throw new IllegalStateException("trainer state has " + blobs.size() + " entries; the trainer runs at"
            + " parallelism 1 and writes one");
      }
      if (blobs.size() == 1) {
        engine.restore(EngineStateSerializer.fromEntry(blobs.get(0)));
        restored = true;
        LOGGER.info("pml4j trainer restored: step {}, {} buffered records, next version {}", engine.steps(),
            engine.metrics().batchFill(), engine.metrics().lastVersion() + 1);
      }
    }
  }

  @Override
  public void open() throws Exception {
    super.open();
    OperatorMetricGroup g = getMetricGroup();
    Counter steps = g.counter("steps", new EngineCounter(() -> engine.steps()));
    Counter samples = g.counter("samples", new EngineCounter(() -> engine.metrics().samples()));
    skipped = g.counter("skipped");
    g.meter("stepsPerSecond", new MeterView(steps, 10));
    g.meter("samplesPerSecond", new MeterView(samples, 10));
    g.gauge(METRIC_LOSS, (Gauge<Double>) () -> engine.metrics().lastLoss());
    g.gauge("queueFill", (Gauge<Long>) () -> engine.metrics().queueFill());
    g.gauge("batchFill", (Gauge<Integer>) () -> engine.metrics().batchFill());
    g.gauge("modelVersion", (Gauge<Long>) () -> engine.metrics().lastVersion());
    g.gauge("stepMillis", (Gauge<Double>) () -> engine.metrics().lastStepMillis());
    engine.restartPublishTimer();
  }

  /** A read-only Flink counter showing an engine figure (for the meters). */
  private static final class EngineCounter implements Counter {
    private final java.util.function.LongSupplier value;

    EngineCounter(java.util.function.LongSupplier value) {
      this.value = value;
    }

    @Override
    public void inc() {}

    @Override
    public void inc(long n) {}

    @Override
    public void dec() {}

    @Override
    public void dec(long n) {}

    @Override
    public long getCount() {
      return value.getAsLong();
    }
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
    byte[] onnx = OnnxExporter.export(trainer.encoder(),
        new OnnxExporter.ExportInfo(p.version(), p.step(), java.util.Map.of(), settings.verifyExport()));
    output.collect(new StreamRecord<>(new ModelUpdate(p.version(), p.step(), onnx, p.metrics(),
        p.createdAtMillis())));
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
    try {
      if (engine != null) {
        engine.close();
        engine = null;
      }
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
