package org.pml4j.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
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
import org.pml4j.torch.Torch;
import org.pml4j.train.RetrievalEval;

/**
 * Retrieval accuracy per model version on a held-out labeled stream: PML's {@code precision_at_1} and
 * {@code mean_average_precision_at_r} by {@link RetrievalEval#metrics}, the same code as {@code pml4j train} and
 * {@code eval} (the held-out set as its own reference with self matches removed, {@code k = "max_bin_count"}).
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
 * synchronous evaluator would throttle training to its own pace through back-pressure. Which versions are scored,
 * the thread's priority and the CPU share are the {@link EvalPolicy} (kept by an {@link EvalQueue}; the thread is an
 * {@link EvalWorker}).
 *
 * <p>The waiting versions and the one in flight are part of the checkpoint; after a restore they are evaluated again.
 * Each version is emitted at most once per run (a replayed version after recovery is skipped). At the end of the
 * input the operator waits for the evaluation in flight and evaluates what is still waiting, without pause, before it
 * finishes.
 *
 * <p>Parallelism 1. Metrics: {@code evaluatedVersion}, {@code precisionAt1}, {@code meanAveragePrecisionAtR},
 * {@code heldOutRecords}, {@code skippedVersions}, {@code waitingVersions}, {@code lastEvaluationMillis} (wall time),
 * {@code lastEvaluationCpuMillis}.
 */
public final class RetrievalEvaluator extends AbstractStreamOperator<EvalResult>
    implements TwoInputStreamOperator<LabeledVector, ModelUpdate, EvalResult>, BoundedMultiInput {
  private static final long serialVersionUID = 3L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(RetrievalEvaluator.class);

  private final int maxRecords;
  private final EvalPolicy policy;

  private transient List<LabeledVector> heldOut;
  private transient float[][] rows;
  private transient long[] labels;
  private transient EvalQueue queue;
  private transient CompletableFuture<Map<String, Double>> inFlightResult;
  private transient boolean heldOutComplete;
  private transient boolean resumeTimerSet;
  /** In finish(): the waiting versions are evaluated without pause. */
  private transient boolean draining;
  private transient EvalWorker worker;
  private transient MailboxExecutor mailbox;
  private transient ListState<LabeledVector> heldOutState;
  private transient ListState<ModelUpdate> pendingState;
  private transient ListState<Long> progressState;
  private transient EvalResult last;

  /** The {@link EvalPolicy#DEFAULT} policy. @param maxRecords held-out records to keep (the rest is ignored) */
  public RetrievalEvaluator(int maxRecords) {
    this(maxRecords, EvalPolicy.DEFAULT);
  }

  /**
   * @param maxRecords held-out records to keep (the rest of the held-out stream is ignored)
   * @param policy which versions to evaluate, the thread's priority and the CPU share
   * @throws IllegalArgumentException for fewer than 2 records, or mode NONE
   */
  public RetrievalEvaluator(int maxRecords, EvalPolicy policy) {
    if (maxRecords < 2) {
      throw new IllegalArgumentException("maxRecords must be >= 2, got " + maxRecords);
    }
    if (java.util.Objects.requireNonNull(policy, "policy").mode() == EvalPolicy.Mode.NONE) {
      throw new IllegalArgumentException("mode NONE means no evaluator: leave the operator out of the job");
    }
    this.maxRecords = maxRecords;
    this.policy = policy;
  }

  /** {@code heldOut.connect(models) → evaluator} at parallelism 1 (uid "pml4j-evaluator"), the default policy. */
  public static SingleOutputStreamOperator<EvalResult> apply(DataStream<LabeledVector> heldOut,
      DataStream<ModelUpdate> models, int maxRecords) {
    return apply(heldOut, models, maxRecords, EvalPolicy.DEFAULT);
  }

  /** {@code heldOut.connect(models) → evaluator} at parallelism 1 (uid "pml4j-evaluator"). */
  public static SingleOutputStreamOperator<EvalResult> apply(DataStream<LabeledVector> heldOut,
      DataStream<ModelUpdate> models, int maxRecords, EvalPolicy policy) {
    return heldOut.connect(models).transform("pml4j-evaluator", TypeInformation.of(EvalResult.class),
        new RetrievalEvaluator(maxRecords, policy)).uid("pml4j-evaluator").setParallelism(1).setMaxParallelism(1);
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
    queue = new EvalQueue(policy);
    heldOutComplete = false;
    if (context.isRestored()) {
      heldOutState.get().forEach(heldOut::add);
      List<ModelUpdate> pending = new ArrayList<>();
      pendingState.get().forEach(pending::add);
      List<Long> progress = new ArrayList<>();
      progressState.get().forEach(progress::add);
      heldOutComplete = progress.size() >= 2 && progress.get(1) != 0;
      queue.restore(pending, progress.size() >= 2 ? progress.get(0) : -1, progress.size() >= 3 ? progress.get(2) : 0);
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
    worker = new EvalWorker(policy, "pml4j-evaluator-" + getRuntimeContext().getTaskInfo().getIndexOfThisSubtask());
    var g = getMetricGroup();
    g.gauge("evaluatedVersion", (Gauge<Long>) () -> queue.lastEvaluated());
    g.gauge("precisionAt1", (Gauge<Double>) () -> last == null ? Double.NaN : last.precisionAt1);
    g.gauge("meanAveragePrecisionAtR", (Gauge<Double>) () -> last == null ? Double.NaN
        : last.meanAveragePrecisionAtR);
    g.gauge("heldOutRecords", (Gauge<Integer>) () -> heldOut.size());
    g.gauge("skippedVersions", (Gauge<Long>) () -> queue.skipped());
    g.gauge("waitingVersions", (Gauge<Integer>) () -> queue.waiting());
    g.gauge("lastEvaluationMillis", (Gauge<Long>) () -> worker == null ? 0 : worker.lastMillis());
    g.gauge("lastEvaluationCpuMillis", (Gauge<Long>) () -> worker == null ? 0 : worker.lastCpuNanos() / 1_000_000);
    startNext();
  }

  @Override
  public void snapshotState(StateSnapshotContext context) throws Exception {
    super.snapshotState(context);
    heldOutState.update(new ArrayList<>(heldOut));
    pendingState.update(queue.pending());
    progressState.update(List.of(queue.lastEvaluated(), heldOutComplete ? 1L : 0L, queue.skipped()));
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
    if (queue.offer(element.getValue())) {
      startNext();
    }
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
    while (queue.inFlight() != null || queue.waiting() > 0) {
      if (queue.inFlight() == null) {
        startNext();
        if (queue.inFlight() == null) {
          break; // nothing could be started (fewer than 2 held-out records): the versions were logged and skipped
        }
      }
      ModelUpdate m = queue.inFlight();
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
        worker.close();
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
    if (!heldOutComplete || !queue.canStart() || worker == null) {
      return;
    }
    long wait = queue.pauseLeftNanos(System.nanoTime(), draining);
    if (wait > 0) {
      if (!resumeTimerSet) {
        // the CPU share's pause: try again on the task thread when it is over (LATEST then takes the newest version)
        resumeTimerSet = true;
        var time = getProcessingTimeService();
        time.registerTimer(time.getCurrentProcessingTime() + Math.max(1, wait / 1_000_000), t -> {
          resumeTimerSet = false;
          startNext();
        });
      }
      return;
    }
    if (rows.length < 2) {
      ModelUpdate m = queue.drop();
      LOGGER.warn("pml4j evaluator: {} held-out records; version {} not evaluated", rows.length, m.version);
      startNext();
      return;
    }
    ModelUpdate m = queue.start();
    inFlightResult = worker.submit(m.onnx, rows, labels);
    inFlightResult.whenComplete((r, e) -> {
      try {
        mailbox.execute(() -> done(m, r, e), "pml4j evaluation of version %d", m.version);
      } catch (RejectedExecutionException closing) {
        // the task is shutting down: the version is in the checkpoint's pending list and is evaluated after a restore
      }
    });
  }

  /** On the task thread: emits the result of {@code m} (once) and starts the next evaluation. */
  private void done(ModelUpdate m, Map<String, Double> r, Throwable error) {
    if (queue.inFlight() != m) {
      return; // already emitted by finish()
    }
    if (error != null) {
      Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
      throw new IllegalStateException("evaluation of model version " + m.version + " failed: " + cause, cause);
    }
    queue.done(m, worker.lastCpuNanos(), System.nanoTime());
    inFlightResult = null;
    last = new EvalResult(m.version, m.step, r.get("precision_at_1"), r.get("mean_average_precision_at_r"),
        rows.length, System.currentTimeMillis());
    LOGGER.info("pml4j evaluator: {}", last);
    output.collect(new StreamRecord<>(last));
    startNext();
  }
}
