package org.pml4j.flink;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedMultiInput;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.accuracy.AccuracyCalculator;
import org.pml4j.accuracy.CustomKNN;
import org.pml4j.distances.LpDistance;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * Retrieval accuracy per model version on a held-out labeled stream: PML's {@code precision_at_1} and
 * {@code mean_average_precision_at_r} ({@link AccuracyCalculator}, the held-out set as its own reference with self
 * matches removed, {@code k = "max_bin_count"}).
 *
 * <p>Input 1 is the held-out stream (its first {@code maxRecords} records are kept in operator state); input 2 is the
 * trainer's {@link ModelUpdate} stream. Every evaluation uses the same, complete held-out set: versions that arrive
 * before the held-out input has ended (or reached {@code maxRecords}) wait in state. The embedding is the ONNX model
 * in ONNX Runtime, i.e. exactly what the embed operator serves.
 *
 * <p><b>Evaluation runs beside the task thread</b>, on one background thread of the operator, so that the trainer is
 * never held back by it: a model update is taken off the input at once, and its result is emitted (on the task
 * thread, through the mailbox) when the evaluation is done. Exact k-NN over the held-out set costs seconds per version
 * (10,000 Fashion-MNIST rows: about 3.5 s on one core), much more than the steps between two versions, so a
 * synchronous evaluator would throttle training to its own pace through back-pressure. On Linux the background
 * thread runs with {@link BackgroundPriority#IDLE} by default (constructor argument {@code priority}, job key
 * {@code evaluator_priority}): it uses only CPU that the task threads (the trainer) leave idle instead of taking an
 * equal share of a core from them; and its CPU use is capped at a share of one core ({@code cpuShare}, job key
 * {@code evaluator_cpu_share}, default {@value #DEFAULT_CPU_SHARE}): after an evaluation of {@code c} CPU-seconds the
 * next starts no sooner than {@code c * (1 / cpuShare - 1)} seconds later, except at the end of the input. Which
 * versions are evaluated
 * is the {@link Mode}:
 * <ul>
 *   <li>{@link Mode#LATEST} (the default): when a new version arrives while another is being evaluated, it replaces
 *       any version still waiting (that one is counted as skipped). Version 0 (the untrained model) and the last
 *       version before the end of the input are always evaluated, and so is every version when the evaluator keeps
 *       up with the publishing rate.
 *   <li>{@link Mode#EVERY}: every version, in version order; the waiting versions queue up in operator state (a
 *       warning is logged past {@value #BACKLOG_WARNING} waiting).
 * </ul>
 * The waiting versions and the one in flight are part of the checkpoint; after a restore they are evaluated again.
 * Each version is emitted at most once per run (a replayed version after recovery is skipped). At the end of the
 * input the operator waits for the evaluation in flight and evaluates what is still waiting before it finishes.
 *
 * <p>Parallelism 1. Metrics: {@code evaluatedVersion}, {@code precisionAt1}, {@code meanAveragePrecisionAtR},
 * {@code heldOutRecords}, {@code skippedVersions}, {@code waitingVersions}, {@code lastEvaluationMillis} (wall time),
 * {@code lastEvaluationCpuMillis}.
 */
public final class RetrievalEvaluator extends AbstractStreamOperator<EvalResult>
    implements TwoInputStreamOperator<LabeledVector, ModelUpdate, EvalResult>, BoundedMultiInput {
  private static final long serialVersionUID = 2L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(RetrievalEvaluator.class);
  public static final List<String> METRICS = List.of("precision_at_1", "mean_average_precision_at_r");
  /** Waiting versions (mode {@link Mode#EVERY}) past which a warning is logged. */
  public static final int BACKLOG_WARNING = 10;
  /**
   * Query rows per k-NN chunk: a 128 x 10,000 distance block is 5 MB, small enough for the C allocator to reuse its
   * memory from chunk to chunk. (AccuracyCalculator's default of 1,024 rows makes 41 MB blocks, which glibc maps and
   * unmaps afresh for every temporary. Measured on 10,000 rows: 137,000 instead of 330,000 page faults for the k-NN,
   * 0.24 instead of 0.6 s of kernel time; the scores are the same.)
   */
  static final int KNN_CHUNK_ROWS = 128;
  /**
   * Default share of one core for evaluations while the input runs: after an evaluation of {@code c} CPU-seconds the
   * evaluator pauses {@code c}, so exact k-NN over the held-out set costs at most half a core however long the stream
   * runs. (Priority alone does not bound it: an {@link BackgroundPriority#IDLE} thread still takes every idle CPU.)
   */
  public static final double DEFAULT_CPU_SHARE = 0.5;

  /** Which model versions the evaluator evaluates. */
  public enum Mode {
    /** The newest version whenever the evaluator is free (plus version 0 and the final version). */
    LATEST,
    /** Every version, in order. */
    EVERY,
    /** No evaluation: the job has no evaluator (for pipelines that measure quality elsewhere, and benchmarks). */
    NONE;

    /** {@code latest} or {@code every} (case-insensitive). */
    public static Mode parse(String s) {
      for (Mode m : values()) {
        if (m.name().equalsIgnoreCase(s == null ? "" : s.trim())) {
          return m;
        }
      }
      throw new IllegalArgumentException("evaluate must be 'latest', 'every' or 'none', got '" + s + "'");
    }
  }

  private final int maxRecords;
  private final Mode mode;
  private final BackgroundPriority priority;
  private final double cpuShare;

  private transient List<LabeledVector> heldOut;
  private transient float[][] rows;
  private transient long[] labels;
  /** Versions waiting for an evaluation, in version order. */
  private transient ArrayDeque<ModelUpdate> waiting;
  private transient ModelUpdate inFlight;
  private transient CompletableFuture<Map<String, Double>> inFlightResult;
  private transient boolean heldOutComplete;
  private transient long lastEvaluated;
  private transient long skipped;
  private transient volatile long lastEvaluationMillis;
  private transient volatile long lastEvaluationCpuNanos;
  /** System.nanoTime() before which no evaluation starts (the pause after the last one; 0: none). */
  private transient long notBeforeNanos;
  private transient boolean resumeTimerSet;
  /** In finish(): the waiting versions are evaluated without pause. */
  private transient boolean draining;
  private transient ExecutorService worker;
  private transient MailboxExecutor mailbox;
  private transient ListState<LabeledVector> heldOutState;
  private transient ListState<ModelUpdate> pendingState;
  private transient ListState<Long> progressState;
  private transient EvalResult last;

  /** Mode {@link Mode#LATEST}. @param maxRecords held-out records to keep (the rest is ignored) */
  public RetrievalEvaluator(int maxRecords) {
    this(maxRecords, Mode.LATEST);
  }

  /**
   * @param maxRecords held-out records to keep (the rest of the held-out stream is ignored)
   * @param mode which versions to evaluate
   */
  public RetrievalEvaluator(int maxRecords, Mode mode) {
    this(maxRecords, mode, BackgroundPriority.IDLE, DEFAULT_CPU_SHARE);
  }

  /**
   * @param maxRecords held-out records to keep (the rest of the held-out stream is ignored)
   * @param mode which versions to evaluate
   * @param priority scheduling priority of the evaluation thread ({@link BackgroundPriority#IDLE}: only CPU that the
   *     task threads leave idle)
   * @param cpuShare the share of one core the evaluation may use while the input runs, in (0, 1]: after an
   *     evaluation that took {@code c} CPU-seconds the next one starts no sooner than {@code c * (1 / cpuShare - 1)}
   *     seconds later (1: at once). At the end of the input the waiting versions are evaluated without pause.
   * @throws IllegalArgumentException for fewer than 2 records, mode NONE, or a share outside (0, 1]
   */
  public RetrievalEvaluator(int maxRecords, Mode mode, BackgroundPriority priority, double cpuShare) {
    if (maxRecords < 2) {
      throw new IllegalArgumentException("maxRecords must be >= 2, got " + maxRecords);
    }
    if (mode == Mode.NONE) {
      throw new IllegalArgumentException("mode NONE means no evaluator: leave the operator out of the job");
    }
    this.maxRecords = maxRecords;
    this.mode = java.util.Objects.requireNonNull(mode, "mode");
    this.priority = java.util.Objects.requireNonNull(priority, "priority");
    this.cpuShare = checkCpuShare(cpuShare);
  }

  /**
   * @return {@code share} when it is in (0, 1]
   * @throws IllegalArgumentException naming the key {@code evaluator_cpu_share} otherwise
   */
  public static double checkCpuShare(double share) {
    if (!(share > 0 && share <= 1)) {
      throw new IllegalArgumentException("evaluator_cpu_share must be in (0, 1] (a share of one core), got " + share);
    }
    return share;
  }

  /** {@code heldOut.connect(models) → evaluator} at parallelism 1 (uid "pml4j-evaluator"), mode LATEST. */
  public static SingleOutputStreamOperator<EvalResult> apply(DataStream<LabeledVector> heldOut,
      DataStream<ModelUpdate> models, int maxRecords) {
    return apply(heldOut, models, maxRecords, Mode.LATEST);
  }

  /** {@code heldOut.connect(models) → evaluator} at parallelism 1 (uid "pml4j-evaluator"), priority IDLE. */
  public static SingleOutputStreamOperator<EvalResult> apply(DataStream<LabeledVector> heldOut,
      DataStream<ModelUpdate> models, int maxRecords, Mode mode) {
    return apply(heldOut, models, maxRecords, mode, BackgroundPriority.IDLE, DEFAULT_CPU_SHARE);
  }

  /**
   * {@code heldOut.connect(models) → evaluator} at parallelism 1 (uid "pml4j-evaluator").
   *
   * @param priority scheduling priority of the evaluation thread (see {@link BackgroundPriority})
   * @param cpuShare share of one core for evaluations while the input runs (see
   *     {@link #RetrievalEvaluator(int, Mode, BackgroundPriority, double)})
   */
  public static SingleOutputStreamOperator<EvalResult> apply(DataStream<LabeledVector> heldOut,
      DataStream<ModelUpdate> models, int maxRecords, Mode mode, BackgroundPriority priority, double cpuShare) {
    return heldOut.connect(models).transform("pml4j-evaluator", TypeInformation.of(EvalResult.class),
        new RetrievalEvaluator(maxRecords, mode, priority, cpuShare)).uid("pml4j-evaluator").setParallelism(1)
        .setMaxParallelism(1);
  }

  @Override
  public void setMailboxExecutor(MailboxExecutor mailboxExecutor) {
    super.setMailboxExecutor(mailboxExecutor);
    this.mailbox = mailboxExecutor;
  }

  @Override
  public void initializeState(StateInitializationContext context) throws Exception {
    super.initializeState(context);
    var store = context.getOperatorStateStore();
    heldOutState = store.getListState(
        new ListStateDescriptor<>("pml4j-eval-heldout", TypeInformation.of(LabeledVector.class)));
    pendingState = store.getListState(
        new ListStateDescriptor<>("pml4j-eval-pending", TypeInformation.of(ModelUpdate.class)));
    progressState = store.getListState(new ListStateDescriptor<>("pml4j-eval-progress", Types.LONG));
    heldOut = new ArrayList<>();
    waiting = new ArrayDeque<>();
    heldOutComplete = false;
    lastEvaluated = -1;
    if (context.isRestored()) {
      heldOutState.get().forEach(heldOut::add);
      List<ModelUpdate> p = new ArrayList<>();
      pendingState.get().forEach(p::add);
      p.sort(Comparator.comparingLong(m -> m.version));
      waiting.addAll(p);
      List<Long> progress = new ArrayList<>();
      progressState.get().forEach(progress::add);
      if (progress.size() >= 2) {
        lastEvaluated = progress.get(0);
        heldOutComplete = progress.get(1) != 0;
      }
      if (progress.size() >= 3) {
        skipped = progress.get(2);
      }
      if (heldOutComplete) {
        freezeHeldOut();
      }
    }
  }

  @Override
  public void open() throws Exception {
    super.open();
    Torch.ensureLoaded();
    Torch.setNumThreads(1);
    if (mailbox == null) {
      throw new IllegalStateException("RetrievalEvaluator needs the task's mailbox executor (use apply(...))");
    }
    String name = "pml4j-evaluator-" + getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    worker = Executors.newSingleThreadExecutor(priority.daemonThreads(name));
    var g = getMetricGroup();
    g.gauge("evaluatedVersion", (Gauge<Long>) () -> lastEvaluated);
    g.gauge("precisionAt1", (Gauge<Double>) () -> last == null ? Double.NaN : last.precisionAt1);
    g.gauge("meanAveragePrecisionAtR", (Gauge<Double>) () -> last == null ? Double.NaN
        : last.meanAveragePrecisionAtR);
    g.gauge("heldOutRecords", (Gauge<Integer>) () -> heldOut.size());
    g.gauge("skippedVersions", (Gauge<Long>) () -> skipped);
    g.gauge("waitingVersions", (Gauge<Integer>) () -> waiting.size());
    g.gauge("lastEvaluationMillis", (Gauge<Long>) () -> lastEvaluationMillis);
    g.gauge("lastEvaluationCpuMillis", (Gauge<Long>) () -> lastEvaluationCpuNanos / 1_000_000);
    startNext();
  }

  @Override
  public void snapshotState(StateSnapshotContext context) throws Exception {
    super.snapshotState(context);
    heldOutState.update(new ArrayList<>(heldOut));
    List<ModelUpdate> p = new ArrayList<>();
    if (inFlight != null) {
      p.add(inFlight);
    }
    p.addAll(waiting);
    pendingState.update(p);
    progressState.update(List.of(lastEvaluated, heldOutComplete ? 1L : 0L, skipped));
  }

  @Override
  public void processElement1(StreamRecord<LabeledVector> element) {
    if (heldOutComplete) {
      return;
    }
    LabeledVector v = element.getValue();
    if (v.label == null || v.features == null) {
      return;
    }
    heldOut.add(v);
    if (heldOut.size() >= maxRecords) {
      completeHeldOut();
    }
  }

  @Override
  public void processElement2(StreamRecord<ModelUpdate> element) {
    ModelUpdate m = element.getValue();
    if (m.version <= lastEvaluated || (inFlight != null && inFlight.version == m.version)
        || waiting.stream().anyMatch(p -> p.version == m.version)) {
      return;
    }
    if (mode == Mode.LATEST && m.version != 0 && waiting.stream().anyMatch(p -> p.version > m.version)) {
      skipped++; // an older version than one already waiting
      return;
    }
    if (mode == Mode.LATEST) {
      // Keep version 0 (the untrained baseline); a newer version replaces any other waiting one.
      waiting.removeIf(p -> {
        boolean drop = p.version != 0 && p.version < m.version;
        if (drop) {
          skipped++;
        }
        return drop;
      });
    }
    waiting.add(m);
    if (mode == Mode.EVERY && waiting.size() > BACKLOG_WARNING) {
      LOGGER.warn("pml4j evaluator: {} versions wait for an evaluation (evaluation is slower than publishing; "
          + "evaluate=latest keeps only the newest)", waiting.size());
    }
    startNext();
  }

  @Override
  public void endInput(int inputId) {
    if (inputId == 1) {
      completeHeldOut();
    }
  }

  /** Waits for the evaluation in flight and evaluates every waiting version before the operator finishes. */
  @Override
  public void finish() throws Exception {
    draining = true;
    completeHeldOut();
    while (inFlight != null || !waiting.isEmpty()) {
      if (inFlight == null) {
        startNext();
        if (inFlight == null) {
          break; // nothing could be started (fewer than 2 held-out records): the versions were logged and skipped
        }
      }
      ModelUpdate m = inFlight;
      Map<String, Double> r;
      try {
        r = inFlightResult.get();
      } catch (ExecutionException e) {
        throw new IllegalStateException("evaluation of model version " + m.version + " failed", e.getCause());
      }
      done(m, r, null);
    }
    super.finish();
  }

  @Override
  public void close() throws Exception {
    try {
      if (worker != null) {
        worker.shutdownNow();
        worker = null;
      }
    } finally {
      super.close();
    }
  }

  private void completeHeldOut() {
    if (heldOutComplete) {
      return;
    }
    heldOutComplete = true;
    freezeHeldOut();
    startNext();
  }

  private void freezeHeldOut() {
    rows = new float[heldOut.size()][];
    labels = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = heldOut.get(i).features;
      labels[i] = heldOut.get(i).label;
    }
  }

  /** Starts the evaluation of the oldest waiting version on the worker thread (when free and the set complete). */
  private void startNext() {
    if (!heldOutComplete || inFlight != null || waiting.isEmpty() || worker == null) {
      return;
    }
    long wait = notBeforeNanos - System.nanoTime();
    if (!draining && wait > 0) {
      if (!resumeTimerSet) {
        // the CPU budget's pause: try again on the task thread when it is over (LATEST then takes the newest version)
        resumeTimerSet = true;
        var time = getProcessingTimeService();
        time.registerTimer(time.getCurrentProcessingTime() + Math.max(1, wait / 1_000_000), t -> {
          resumeTimerSet = false;
          startNext();
        });
      }
      return;
    }
    ModelUpdate m = waiting.poll();
    if (rows.length < 2) {
      LOGGER.warn("pml4j evaluator: {} held-out records; version {} not evaluated", rows.length, m.version);
      lastEvaluated = m.version;
      startNext();
      return;
    }
    float[][] x = rows;
    long[] y = labels;
    inFlight = m;
    inFlightResult = CompletableFuture.supplyAsync(() -> {
      Torch.setNumThreads(1);
      var bean = java.lang.management.ManagementFactory.getThreadMXBean();
      boolean cpu = bean.isCurrentThreadCpuTimeSupported();
      long t0 = System.nanoTime();
      long c0 = cpu ? bean.getCurrentThreadCpuTime() : 0;
      Map<String, Double> r = accuracy(m.onnx, x, y);
      long wall = System.nanoTime() - t0;
      lastEvaluationMillis = wall / 1_000_000;
      lastEvaluationCpuNanos = cpu ? bean.getCurrentThreadCpuTime() - c0 : wall;
      return r;
    }, worker);
    inFlightResult.whenComplete((r, e) -> {
      try {
        mailbox.execute(() -> done(m, r, e), "pml4j evaluation of version %d", m.version);
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        // the task is shutting down: the version is in the checkpoint's waiting list and is evaluated after a restore
      }
    });
  }

  /** On the task thread: emits the result of {@code m} (once) and starts the next evaluation. */
  private void done(ModelUpdate m, Map<String, Double> r, Throwable error) {
    if (inFlight != m) {
      return; // already emitted by finish()
    }
    if (error != null) {
      Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
          ? error.getCause() : error;
      throw new IllegalStateException("evaluation of model version " + m.version + " failed: " + cause, cause);
    }
    inFlight = null;
    inFlightResult = null;
    lastEvaluated = m.version;
    notBeforeNanos = System.nanoTime() + (long) (lastEvaluationCpuNanos * (1 / cpuShare - 1));
    last = new EvalResult(m.version, m.step, r.get("precision_at_1"), r.get("mean_average_precision_at_r"),
        rows.length, System.currentTimeMillis());
    LOGGER.info("pml4j evaluator: {}", last);
    output.collect(new StreamRecord<>(last));
    startNext();
  }

  /**
   * Embeds {@code rows} with an ONNX model and computes precision_at_1 and mean_average_precision_at_r of the rows as
   * their own reference.
   */
  public static Map<String, Double> accuracy(byte[] onnx, float[][] rows, long[] labels) {
    float[][] emb;
    try (OnnxEncoder enc = OnnxEncoder.load(onnx, new OnnxEncoder.Options(1, 4096))) {
      emb = enc.embed(rows);
    }
    return accuracy(emb, labels);
  }

  /** precision_at_1 and mean_average_precision_at_r of embeddings as their own reference. */
  @SuppressWarnings("try")
  public static Map<String, Double> accuracy(float[][] embeddings, long[] labels) {
    AccuracyCalculator calc = new AccuracyCalculator(METRICS, List.of(), false, false,
        AccuracyCalculator.MAX_BIN_COUNT, new CustomKNN(new LpDistance(false, 2, 2), KNN_CHUNK_ROWS), null);
    try (Scope s = Scope.open()) {
      Tensor q = Tensors.floats(embeddings);
      Tensor l = Tensors.longs(labels);
      Map<String, Object> r = calc.getAccuracy(q, l);
      return Map.of("precision_at_1", ((Number) r.get("precision_at_1")).doubleValue(),
          "mean_average_precision_at_r", ((Number) r.get("mean_average_precision_at_r")).doubleValue());
    }
  }
}
