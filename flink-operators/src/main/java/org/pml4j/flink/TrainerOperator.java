package org.pml4j.flink;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
import org.pml4j.train.StepResult;
import org.pml4j.train.TrainerConfig;

/**
 * Online metric-learning trainer: collects labeled records into micro-batches of {@code batchSize}, runs one
 * {@link CheckpointableTrainer#trainStep} per batch, and emits a {@link ModelUpdate} (the encoder exported to ONNX by
 * {@link OnnxExporter}, with {@code model_version} and {@code training_step} metadata) every {@code publishEverySteps}
 * steps or {@code publishEveryMillis} of wall time (checked after each step), and at the end of the input. With
 * {@code publishInitial} the untrained encoder is published first, as version 0.
 *
 * <p><b>State.</b> On each checkpoint the operator writes one {@code byte[]} into operator {@link ListState}: the
 * trainer's {@link CheckpointableTrainer#snapshot()} (parameters, optimizer, loss state, step counter, RNG), the
 * partial batch, the version counter, the last published step and the running totals. {@link #initializeState}
 * rebuilds the trainer through the {@link TrainerFactory} and restores all of it, so with a replayable source a
 * restored job continues bit-identically: same batches, same steps, same parameters, same versions (versions emitted
 * between the checkpoint and a failure are emitted again, with the same content when the time trigger is off;
 * downstream operators ignore versions they have already seen).
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
 * <p><b>Metrics</b> (operator group): {@code loss}, {@code stepsPerSecond}, {@code samplesPerSecond}, {@code steps},
 * {@code samples}, {@code queueFill} (the CrossBatchMemory queue), {@code batchFill} (records waiting for the next
 * step), {@code modelVersion} (last published), {@code stepMillis} (last step), {@code skipped} (records the trainer
 * could not use: wrong width, no label, non-finite; validate upstream), {@code skipped_nonfinite} (steps skipped).
 *
 * <p><b>Non-finite steps.</b> When the trainer's guard skips a step ({@link StepResult#skipped()}: the encoder output,
 * loss or a gradient was not finite, e.g. a record of 3e38 values that overflows float32 in the encoder), nothing of
 * the model changes, the batch's records go to the side output {@link #REJECTED} with reason
 * {@link RejectedRecord#NONFINITE_STEP}, they are added to the {@link ValidateFunction#ACCUMULATOR} rejected count, and
 * the step is counted in {@link #SKIPPED_ACCUMULATOR} and the {@link #METRIC_SKIPPED_NONFINITE} metric. The job goes on.
 */
public final class TrainerOperator extends AbstractStreamOperator<ModelUpdate>
    implements OneInputStreamOperator<LabeledVector, ModelUpdate>, BoundedOneInput {
  private static final long serialVersionUID = 1L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(TrainerOperator.class);
  private static final byte[] MAGIC = {'P', 'M', 'L', '4', 'J', 'T', 'R', '3'};
  /**
   * The side output of the records of batches the trainer skipped (reason {@link RejectedRecord#NONFINITE_STEP}): the
   * same tag as {@link ValidateFunction#REJECTED}.
   */
  public static final org.apache.flink.util.OutputTag<RejectedRecord> REJECTED = ValidateFunction.REJECTED;
  /** Job accumulator (a LongCounter): steps the trainer's non-finite guard skipped. */
  public static final String SKIPPED_ACCUMULATOR = "pml4j.skipped_nonfinite";
  /** ModelUpdate metric: steps skipped so far by the trainer's non-finite guard. */
  public static final String METRIC_SKIPPED_NONFINITE = "skipped_nonfinite";
  /** Metric names. */
  /** ModelUpdate metric: the mean loss of the steps since the previous version. */
  public static final String METRIC_LOSS = "loss";
  /** ModelUpdate metric: the loss of the version's last step. */
  public static final String METRIC_LAST_LOSS = "last_step_loss";
  public static final String METRIC_SAMPLES = "samples";
  public static final String METRIC_TRAIN_SECONDS = "train_seconds";
  public static final String METRIC_QUEUE_FILL = "queue_fill";
  public static final String METRIC_SAMPLES_PER_SEC = "samples_per_sec";
  /** ModelUpdate metric: CPU time of the task thread inside trainStep (wall time is {@link #METRIC_TRAIN_SECONDS}). */
  public static final String METRIC_TRAIN_CPU_SECONDS = "train_cpu_seconds";

  /**
   * When and how the trainer steps and publishes.
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
    public Settings {
      if (batchSize < 2) {
        throw new IllegalArgumentException("batchSize must be >= 2, got " + batchSize);
      }
      if (publishEverySteps < 0 || publishEveryMillis < 0) {
        throw new IllegalArgumentException("publish intervals must be >= 0");
      }
    }

    /** Publish every {@code everySteps} steps, the untrained model first, no time trigger, verified exports. */
    public static Settings of(int batchSize, long everySteps) {
      return new Settings(batchSize, everySteps, 0, true, false, true);
    }
  }

  private final TrainerFactory factory;
  private final String configJson;
  private final Settings settings;

  private transient CheckpointableTrainer trainer;
  private transient ListState<byte[]> state;
  private transient List<LabeledVector> batch;
  private transient long nextVersion;
  private transient long lastPublishedStep;
  private transient boolean initialDone;
  private transient long samples;
  private transient long trainNanos;
  private transient long trainCpuNanos;
  private transient java.lang.management.ThreadMXBean threadBean;
  private transient double lastLoss;
  private transient double lossSum;
  private transient long lossSteps;
  private transient long queueFill;
  private transient long lastPublishMillis;
  private transient long lastStepNanos;
  private transient long inputSize;
  private transient Counter stepsCounter;
  private transient Counter samplesCounter;
  private transient Counter skipped;
  private transient Counter skippedNonfiniteCounter;
  private transient long skippedNonfinite;
  private transient long rejectedRecords;
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
    trainer = factory.apply(config);
    inputSize = trainer.encoder().inputSize();
    batch = new ArrayList<>(settings.batchSize());
    nextVersion = 0;
    lastPublishedStep = -1;
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
        read(blobs.get(0));
        restored = true;
        LOGGER.info("pml4j trainer restored: step {}, {} buffered records, next version {}", trainer.steps(),
            batch.size(), nextVersion);
      }
    }
  }

  @Override
  public void open() throws Exception {
    super.open();
    OperatorMetricGroup g = getMetricGroup();
    stepsCounter = g.counter("steps");
    samplesCounter = g.counter("samples");
    stepsCounter.inc(trainer.steps());
    samplesCounter.inc(samples);
    skipped = g.counter("skipped");
    skippedNonfiniteCounter = g.counter(METRIC_SKIPPED_NONFINITE);
    skippedNonfiniteCounter.inc(skippedNonfinite);
    g.meter("stepsPerSecond", new MeterView(stepsCounter, 10));
    g.meter("samplesPerSecond", new MeterView(samplesCounter, 10));
    g.gauge(METRIC_LOSS, (Gauge<Double>) () -> lastLoss);
    g.gauge("queueFill", (Gauge<Long>) () -> queueFill);
    g.gauge("batchFill", (Gauge<Integer>) () -> batch.size());
    g.gauge("modelVersion", (Gauge<Long>) () -> nextVersion - 1);
    g.gauge("stepMillis", (Gauge<Double>) () -> lastStepNanos / 1e6);
    lastPublishMillis = System.currentTimeMillis();
  }

  @Override
  public void processElement(StreamRecord<LabeledVector> element) {
    if (!initialDone) {
      initialDone = true;
      if (settings.publishInitial() && nextVersion == 0) {
        publish();
      }
    }
    LabeledVector v = element.getValue();
    if (!usable(v)) {
      skipped.inc();
      return;
    }
    batch.add(v);
    if (batch.size() >= settings.batchSize()) {
      step();
      maybePublish();
    }
  }

  private boolean usable(LabeledVector v) {
    if (v == null || v.label == null || v.features == null || v.features.length != inputSize) {
      return false;
    }
    for (float x : v.features) {
      if (!Float.isFinite(x)) {
        return false;
      }
    }
    return true;
  }

  private void step() {
    int n = batch.size();
    float[][] x = new float[n][];
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      LabeledVector v = batch.get(i);
      x[i] = v.features;
      y[i] = v.label;
    }
    long c0 = cpuNanos();
    long t0 = System.nanoTime();
    StepResult r = trainer.trainStep(x, y);
    lastStepNanos = System.nanoTime() - t0;
    trainNanos += lastStepNanos;
    trainCpuNanos += Math.max(0, cpuNanos() - c0);
    if (r.wasSkipped()) {
      LOGGER.warn("pml4j trainer: step skipped ({}); {} records to the rejected output", r.skipped(), n);
      String detail = "training step skipped: " + r.skipped() + " (batch of " + n + " records)";
      for (LabeledVector v : batch) {
        output.collect(REJECTED, new StreamRecord<>(new RejectedRecord(v, RejectedRecord.NONFINITE_STEP, detail)));
      }
      skippedNonfinite++;
      rejectedRecords += n;
      skippedNonfiniteCounter.inc();
      batch.clear();
      return;
    }
    samples += n;
    lastLoss = r.loss();
    lossSum += r.loss();
    lossSteps++;
    queueFill = r.queueFill();
    batch.clear();
    stepsCounter.inc();
    samplesCounter.inc(n);
  }

  /** CPU time of the task thread (0 when the JVM cannot measure it). */
  private long cpuNanos() {
    if (threadBean == null) {
      threadBean = java.lang.management.ManagementFactory.getThreadMXBean();
    }
    return threadBean.isCurrentThreadCpuTimeSupported() ? threadBean.getCurrentThreadCpuTime() : 0;
  }

  private void maybePublish() {
    long steps = trainer.steps();
    boolean byCount = settings.publishEverySteps() > 0 && steps - Math.max(lastPublishedStep, 0)
        >= settings.publishEverySteps();
    boolean byTime = settings.publishEveryMillis() > 0
        && System.currentTimeMillis() - lastPublishMillis >= settings.publishEveryMillis() && steps > lastPublishedStep;
    if (byCount || byTime) {
      publish();
    }
  }

  private void publish() {
    long version = nextVersion;
    long steps = trainer.steps();
    byte[] onnx = OnnxExporter.export(trainer.encoder(),
        new OnnxExporter.ExportInfo(version, steps, Map.of(), settings.verifyExport()));
    Map<String, Double> m = new LinkedHashMap<>();
    m.put(METRIC_LOSS, lossSteps > 0 ? lossSum / lossSteps : (steps > 0 ? lastLoss : 0.0));
    m.put(METRIC_LAST_LOSS, lastLoss);
    m.put(METRIC_SAMPLES, (double) samples);
    m.put(METRIC_TRAIN_SECONDS, trainNanos / 1e9);
    m.put(METRIC_TRAIN_CPU_SECONDS, trainCpuNanos / 1e9);
    m.put(METRIC_QUEUE_FILL, (double) queueFill);
    m.put(METRIC_SAMPLES_PER_SEC, trainNanos > 0 ? samples / (trainNanos / 1e9) : 0.0);
    m.put(METRIC_SKIPPED_NONFINITE, (double) skippedNonfinite);
    nextVersion++;
    lastPublishedStep = steps;
    lossSum = 0;
    lossSteps = 0;
    lastPublishMillis = System.currentTimeMillis();
    output.collect(new StreamRecord<>(new ModelUpdate(version, steps, onnx, m, lastPublishMillis)));
  }

  @Override
  public void endInput() {
    if (!initialDone) {
      initialDone = true;
    }
    if (settings.trainFinalPartialBatch() && batch.size() >= 2) {
      step();
    } else if (!batch.isEmpty()) {
      LOGGER.info("pml4j trainer: {} records at the end of the input do not fill a batch of {}; not trained",
          batch.size(), settings.batchSize());
      batch.clear();
    }
    if (trainer.steps() > lastPublishedStep || nextVersion == 0) {
      publish();
    }
  }

  @Override
  public void snapshotState(StateSnapshotContext context) throws Exception {
    super.snapshotState(context);
    state.update(List.of(write()));
  }

  @Override
  public void close() throws Exception {
    // Called on the normal end of the last attempt: publish the (restored + new) totals once.
    if (getRuntimeContext() != null) {
      getRuntimeContext().getLongCounter(ValidateFunction.ACCUMULATOR).add(rejectedRecords);
      getRuntimeContext().getLongCounter(SKIPPED_ACCUMULATOR).add(skippedNonfinite);
    }
    try {
      if (trainer != null) {
        trainer.close();
        trainer = null;
      }
    } finally {
      super.close();
    }
  }

  /** Whether this instance restored its state from a checkpoint (for tests and logs). */
  public boolean wasRestored() {
    return restored;
  }

  // ---------------------------------------------------------------- state bytes

  private byte[] write() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.write(MAGIC);
      out.writeLong(nextVersion);
      out.writeLong(lastPublishedStep);
      out.writeBoolean(initialDone);
      out.writeLong(samples);
      out.writeLong(trainNanos);
      out.writeLong(trainCpuNanos);
      out.writeDouble(lastLoss);
      out.writeDouble(lossSum);
      out.writeLong(lossSteps);
      out.writeLong(queueFill);
      out.writeLong(skippedNonfinite);
      out.writeLong(rejectedRecords);
      byte[] snap = trainer.snapshot();
      out.writeInt(snap.length);
      out.write(snap);
      out.writeInt(batch.size());
      for (LabeledVector v : batch) {
        out.writeLong(v.id);
        out.writeLong(v.label);
        out.writeInt(v.features.length);
        for (float f : v.features) {
          out.writeFloat(f);
        }
      }
    }
    return bytes.toByteArray();
  }

  private void read(byte[] blob) throws IOException {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(blob))) {
      byte[] magic = new byte[MAGIC.length];
      in.readFully(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IllegalStateException("not a pml4j trainer state of this version (expected magic "
            + new String(MAGIC, java.nio.charset.StandardCharsets.US_ASCII) + ")");
      }
      nextVersion = in.readLong();
      lastPublishedStep = in.readLong();
      initialDone = in.readBoolean();
      samples = in.readLong();
      trainNanos = in.readLong();
      trainCpuNanos = in.readLong();
      lastLoss = in.readDouble();
      lossSum = in.readDouble();
      lossSteps = in.readLong();
      queueFill = in.readLong();
      skippedNonfinite = in.readLong();
      rejectedRecords = in.readLong();
      byte[] snap = new byte[in.readInt()];
      in.readFully(snap);
      trainer.restore(snap);
      int n = in.readInt();
      batch.clear();
      for (int i = 0; i < n; i++) {
        long id = in.readLong();
        long label = in.readLong();
        float[] f = new float[in.readInt()];
        for (int j = 0; j < f.length; j++) {
          f[j] = in.readFloat();
        }
        batch.add(new LabeledVector(id, label, f));
      }
    }
  }
}
