package org.pml4j.train;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * The training loop that {@code pml4j train}, {@code pml4j bench} and the Flink trainer operator drive: it owns one
 * {@link CheckpointableTrainer}, cuts incoming records into batches, runs the steps, decides when a model version is
 * due (the publish policy), keeps the running figures as plain values, and snapshots / restores all of it as an
 * {@link EngineState}. It knows nothing of Flink or ONNX: a due version is handed to a {@link Listener}, which exports
 * the encoder ({@code trainer().encoder()}) while it is called.
 *
 * <p><b>Two ways in.</b> A stream feeds records one at a time ({@link #offer}); the engine checks each (width, label,
 * finite values), collects {@link Settings#batchSize()} of them, steps, and then applies the publish policy. A batch
 * job that picks its own batches (epochs of shuffled indices) calls {@link #step(float[][], long[])} directly; the
 * figures are the same, and no version is published unless it calls {@link #publishNow()}.
 *
 * <p><b>Publish policy</b> (checked after each step of {@link #offer}): a version when {@code publishEverySteps}
 * steps have run since the last one, or {@code publishEveryMillis} of wall time has passed and at least one step has
 * run since; with {@code publishInitial} the untrained encoder is version 0, published when the first record arrives;
 * {@link #endInput()} trains on a final partial batch (when {@code trainFinalPartialBatch} and at least 2 records) and
 * publishes whatever was trained since the last version (or version 0 when nothing was ever published).
 *
 * <p><b>Non-finite steps.</b> When the trainer's guard skips a step ({@link StepResult#wasSkipped()}: the encoder
 * output, the loss or a gradient was not finite), the model is unchanged, the loss figures and the sample count are
 * left alone, the step is counted ({@link Metrics#skippedNonfinite()}, {@link Metrics#nonfiniteRecords()}) and, for
 * a batch cut by {@link #offer}, its records go to {@link Listener#skippedStep}.
 *
 * <p><b>State.</b> {@link #snapshot()} captures the trainer's {@link CheckpointableTrainer#snapshot()}, the partial
 * batch and every counter; {@link #restore} puts them back, so that a restored engine fed the same records continues
 * bit-identically (same steps, parameters and versions). {@link EngineStateCodec} writes it as versioned bytes.
 *
 * <p>Not thread-safe: one engine belongs to one thread, as its trainer does. {@link #close()} closes the trainer.
 */
public final class TrainingEngine implements AutoCloseable {
  /** Publication metric: the mean loss of the steps since the previous version. */
  public static final String METRIC_LOSS = "loss";
  /** Publication metric: the loss of the version's last step. */
  public static final String METRIC_LAST_LOSS = "last_step_loss";
  /** Publication metric: samples trained so far. */
  public static final String METRIC_SAMPLES = "samples";
  /** Publication metric: wall time spent in training steps so far. */
  public static final String METRIC_TRAIN_SECONDS = "train_seconds";
  /** Publication metric: filled slots of the CrossBatchMemory queue. */
  public static final String METRIC_QUEUE_FILL = "queue_fill";
  /** Publication metric: samples per second of training-step wall time. */
  public static final String METRIC_SAMPLES_PER_SEC = "samples_per_sec";
  /**
   * Publication metric: CPU time of the stepping thread inside the steps (wall time: {@link #METRIC_TRAIN_SECONDS}).
   */
  public static final String METRIC_TRAIN_CPU_SECONDS = "train_cpu_seconds";
  /** Publication metric: steps skipped so far by the trainer's non-finite guard. */
  public static final String METRIC_SKIPPED_NONFINITE = "skipped_nonfinite";

  /**
   * How records become steps and when versions are due.
   *
   * @param batchSize records per training step (at least 2)
   * @param publishEverySteps publish after this many steps since the last publication (0: never by count)
   * @param publishEveryMillis publish when this much wall time has passed since the last publication, checked after
   *     each step (0: never by time; a time trigger makes the versions depend on timing)
   * @param publishInitial publish the untrained encoder as version 0 when the first record arrives
   * @param trainFinalPartialBatch at {@link #endInput()}, train on the remaining records when there are at least 2
   *     (else they are dropped)
   */
  public record Settings(int batchSize, long publishEverySteps, long publishEveryMillis, boolean publishInitial,
      boolean trainFinalPartialBatch) {
    /** Checks the values. */
    public Settings {
      if (batchSize < 2) {
        throw new IllegalArgumentException("batchSize must be >= 2, got " + batchSize);
      }
      if (publishEverySteps < 0 || publishEveryMillis < 0) {
        throw new IllegalArgumentException("publish intervals must be >= 0, got publishEverySteps "
            + publishEverySteps + ", publishEveryMillis " + publishEveryMillis);
      }
    }

    /** Batches of {@code batchSize} and no automatic publication (for callers that step batches themselves). */
    public static Settings batchesOnly(int batchSize) {
      return new Settings(batchSize, 0, 0, false, false);
    }
  }

  /**
   * One labeled training record.
   *
   * @param id the record's id (kept in the partial batch of a snapshot)
   * @param label class label
   * @param features the encoder's flattened input (not copied)
   */
  public record TrainingRecord(long id, long label, float[] features) {
    /** Checks for null features. */
    public TrainingRecord {
      Objects.requireNonNull(features, "features");
    }
  }

  /**
   * A model version that is due.
   *
   * @param version 0 for the untrained encoder, then 1, 2, … in publication order
   * @param step training steps done
   * @param metrics the figures at this point ({@code METRIC_*} names, in a fixed order)
   * @param createdAtMillis wall-clock time of the publication (epoch milliseconds)
   */
  public record Publication(long version, long step, Map<String, Double> metrics, long createdAtMillis) {}

  /** What the engine tells its driver. */
  public interface Listener {
    /**
     * A version is due: export {@code trainer.encoder()} now (the next step changes it).
     *
     * @param p the version and its figures
     * @param trainer the engine's trainer
     */
    void publish(Publication p, CheckpointableTrainer trainer);

    /**
     * The trainer's non-finite guard skipped the step of a batch that {@link #offer} cut; the model is unchanged.
     *
     * @param records the batch's records, in arrival order
     * @param reason the trainer's reason ({@link StepResult#skipped()})
     */
    default void skippedStep(List<TrainingRecord> records, String reason) {}
  }

  /**
   * The running figures, as plain values.
   *
   * @param steps steps done (the trainer's step counter)
   * @param samples records trained on
   * @param lastLoss loss of the last step (0 before the first)
   * @param lossSinceLastVersion mean loss of the steps since the last version (NaN when none)
   * @param queueFill filled CrossBatchMemory slots after the last step
   * @param batchFill records waiting for the next step
   * @param lastVersion the last published version (-1 before the first)
   * @param lastStepMillis wall time of the last step
   * @param trainSeconds wall time inside steps
   * @param trainCpuSeconds CPU time of the stepping thread inside steps
   * @param rejectedRecords records {@link #offer} refused
   * @param skippedNonfinite steps the trainer's non-finite guard skipped
   * @param nonfiniteRecords records in those steps
   */
  public record Metrics(long steps, long samples, double lastLoss, double lossSinceLastVersion, long queueFill,
      int batchFill, long lastVersion, double lastStepMillis, double trainSeconds, double trainCpuSeconds,
      long rejectedRecords, long skippedNonfinite, long nonfiniteRecords) {}

  private final CheckpointableTrainer trainer;
  private final Settings settings;
  private final Listener listener;
  private final LongSupplier clock;
  private final long inputSize;
  private final List<TrainingRecord> batch;
  private final ThreadMXBean threadBean = ManagementFactory.getThreadMXBean();
  private long nextVersion;
  private long lastPublishedStep = -1;
  private boolean initialDone;
  private long samples;
  private long trainNanos;
  private long trainCpuNanos;
  private double lastLoss;
  private double lossSum;
  private long lossSteps;
  private long queueFill;
  private long lastPublishMillis;
  private long lastStepNanos;
  private long rejectedRecords;
  private long skippedNonfinite;
  private long nonfiniteRecords;
  private boolean closed;

  /**
   * An engine that owns {@code trainer} (closing the engine closes it), with the wall clock.
   *
   * @param listener told of due versions; null to ignore them
   */
  public TrainingEngine(CheckpointableTrainer trainer, Settings settings, Listener listener) {
    this(trainer, settings, listener, System::currentTimeMillis);
  }

  /**
   * An engine with the given millisecond clock (for the time trigger and {@link Publication#createdAtMillis()}).
   *
   * @throws IllegalArgumentException when an argument is null
   */
  public TrainingEngine(CheckpointableTrainer trainer, Settings settings, Listener listener, LongSupplier clock) {
    if (trainer == null || settings == null || clock == null) {
      throw new IllegalArgumentException("trainer, settings and clock are required");
    }
    this.trainer = trainer;
    this.settings = settings;
    this.listener = listener;
    this.clock = clock;
    this.inputSize = trainer.encoder().inputSize();
    this.batch = new ArrayList<>(settings.batchSize());
    this.lastPublishMillis = clock.getAsLong();
  }

  /** The trainer this engine owns. */
  public CheckpointableTrainer trainer() {
    return trainer;
  }

  /** The settings. */
  public Settings settings() {
    return settings;
  }

  /** Starts the publish timer afresh (the driver calls it when it starts processing). */
  public void restartPublishTimer() {
    lastPublishMillis = clock.getAsLong();
  }

  /**
   * Why a record cannot be trained on, or null when it can: no label, no features, a width other than the encoder's,
   * or a non-finite value.
   */
  public String check(Long label, float[] features) {
    if (label == null) {
      return "no label";
    }
    if (features == null) {
      return "no features";
    }
    if (features.length != inputSize) {
      return "width " + features.length + ", the encoder takes " + inputSize;
    }
    for (int i = 0; i < features.length; i++) {
      if (!Float.isFinite(features[i])) {
        return "non-finite value " + features[i] + " at " + i;
      }
    }
    return null;
  }

  /**
   * Feeds one record: publishes version 0 first when due, adds the record to the batch, and when the batch is full
   * steps and applies the publish policy.
   *
   * @return null when the record was taken, else why it was refused ({@link #check}); a refused record changes
   *     nothing but {@link Metrics#rejectedRecords()}
   */
  public String offer(long id, Long label, float[] features) {
    requireOpen();
    if (!initialDone) {
      initialDone = true;
      if (settings.publishInitial() && nextVersion == 0) {
        publish();
      }
    }
    String why = check(label, features);
    if (why != null) {
      rejectedRecords++;
      return why;
    }
    batch.add(new TrainingRecord(id, label, features));
    if (batch.size() >= settings.batchSize()) {
      stepBatch();
      maybePublish();
    }
    return null;
  }

  /**
   * The end of the input: trains on the partial batch when the settings say so (else drops it), then publishes the
   * steps since the last version (or version 0 when nothing was published yet).
   *
   * @return the records dropped without training
   */
  public int endInput() {
    requireOpen();
    initialDone = true;
    int dropped = 0;
    if (settings.trainFinalPartialBatch() && batch.size() >= 2) {
      stepBatch();
    } else {
      dropped = batch.size();
      batch.clear();
    }
    if (trainer.steps() > lastPublishedStep || nextVersion == 0) {
      publish();
    }
    return dropped;
  }

  /**
   * One step on a batch the caller chose, with the engine's accounting (samples, loss, times); publishes nothing.
   *
   * @throws IllegalArgumentException for a bad batch (see {@link CheckpointableTrainer#trainStep})
   */
  public StepResult step(float[][] features, long[] labels) {
    requireOpen();
    return runStep(features, labels);
  }

  /** Publishes a version now, whatever the policy says. */
  public void publishNow() {
    requireOpen();
    publish();
  }

  private void stepBatch() {
    int n = batch.size();
    float[][] x = new float[n][];
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      TrainingRecord r = batch.get(i);
      x[i] = r.features();
      y[i] = r.label();
    }
    List<TrainingRecord> records = List.copyOf(batch);
    batch.clear();
    StepResult r = runStep(x, y);
    if (r.wasSkipped() && listener != null) {
      listener.skippedStep(records, r.skipped());
    }
  }

  private StepResult runStep(float[][] x, long[] y) {
    long c0 = cpuNanos();
    long t0 = System.nanoTime();
    StepResult r = trainer.trainStep(x, y);
    lastStepNanos = System.nanoTime() - t0;
    trainNanos += lastStepNanos;
    trainCpuNanos += Math.max(0, cpuNanos() - c0);
    if (r.wasSkipped()) {
      skippedNonfinite++;
      nonfiniteRecords += y.length;
      return r;
    }
    samples += y.length;
    lastLoss = r.loss();
    lossSum += r.loss();
    lossSteps++;
    queueFill = r.queueFill();
    return r;
  }

  private long cpuNanos() {
    return threadBean.isCurrentThreadCpuTimeSupported() ? threadBean.getCurrentThreadCpuTime() : 0;
  }

  private void maybePublish() {
    long steps = trainer.steps();
    boolean byCount = settings.publishEverySteps() > 0
        && steps - Math.max(lastPublishedStep, 0) >= settings.publishEverySteps();
    boolean byTime = settings.publishEveryMillis() > 0
        && clock.getAsLong() - lastPublishMillis >= settings.publishEveryMillis() && steps > lastPublishedStep;
    if (byCount || byTime) {
      publish();
    }
  }

  private void publish() {
    long version = nextVersion;
    long steps = trainer.steps();
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
    lastPublishMillis = clock.getAsLong();
    if (listener != null) {
      listener.publish(new Publication(version, steps, Collections.unmodifiableMap(m), lastPublishMillis), trainer);
    }
  }

  /** The running figures. */
  public Metrics metrics() {
    return new Metrics(trainer.steps(), samples, lastLoss, lossSteps > 0 ? lossSum / lossSteps : Double.NaN,
        queueFill, batch.size(), nextVersion - 1, lastStepNanos / 1e6, trainNanos / 1e9, trainCpuNanos / 1e9,
        rejectedRecords, skippedNonfinite, nonfiniteRecords);
  }

  /** Steps done. */
  public long steps() {
    return trainer.steps();
  }

  // ------------------------------------------------------------------------------------------ snapshot / restore

  /** Everything needed to continue bit-identically (the trainer's snapshot, the partial batch, the counters). */
  public EngineState snapshot() {
    requireOpen();
    return new EngineState(trainer.snapshot(), List.copyOf(batch), nextVersion, lastPublishedStep, initialDone,
        samples, trainNanos, trainCpuNanos, lastLoss, lossSum, lossSteps, queueFill, skippedNonfinite,
        nonfiniteRecords);
  }

  /**
   * Restores a {@link #snapshot()} of an engine of the same trainer configuration. The trainer is restored first
   * (it checks the bytes against its configuration before changing anything), then the batch and counters.
   *
   * @throws IllegalArgumentException when the state does not fit this engine (trainer configuration, record width, a
   *     batch not smaller than the batch size)
   */
  public void restore(EngineState s) {
    requireOpen();
    Objects.requireNonNull(s, "state");
    if (s.batch().size() >= settings.batchSize()) {
      throw new IllegalArgumentException("state's partial batch has " + s.batch().size() + " records; the batch size"
          + " is " + settings.batchSize());
    }
    for (TrainingRecord r : s.batch()) {
      if (r.features().length != inputSize) {
        throw new IllegalArgumentException("state's partial batch holds a record " + r.id() + " of width "
            + r.features().length + "; the encoder takes " + inputSize);
      }
    }
    trainer.restore(s.trainer());
    batch.clear();
    batch.addAll(s.batch());
    nextVersion = s.nextVersion();
    lastPublishedStep = s.lastPublishedStep();
    initialDone = s.initialDone();
    samples = s.samples();
    trainNanos = s.trainNanos();
    trainCpuNanos = s.trainCpuNanos();
    lastLoss = s.lastLoss();
    lossSum = s.lossSum();
    lossSteps = s.lossSteps();
    queueFill = s.queueFill();
    skippedNonfinite = s.skippedNonfinite();
    nonfiniteRecords = s.nonfiniteRecords();
    lastPublishMillis = clock.getAsLong();
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the training engine is closed");
    }
  }

  /** Closes the trainer (and with it its native memory); idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      trainer.close();
    }
  }
}
