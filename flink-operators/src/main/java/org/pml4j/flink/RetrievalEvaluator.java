package org.pml4j.flink;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
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
 * trainer's {@link ModelUpdate} stream. Every version is evaluated on the same, complete held-out set: versions that
 * arrive before the held-out input has ended (or reached {@code maxRecords}) wait in state and are evaluated then, in
 * version order; later ones are evaluated on arrival. Each version is evaluated once (a replayed version after
 * recovery is skipped). The embedding is the ONNX model in ONNX Runtime, i.e. exactly what the embed operator serves.
 *
 * <p>Parallelism 1. Metrics: {@code evaluatedVersion}, {@code precisionAt1}, {@code meanAveragePrecisionAtR},
 * {@code heldOutRecords}.
 */
public final class RetrievalEvaluator extends AbstractStreamOperator<EvalResult>
    implements TwoInputStreamOperator<LabeledVector, ModelUpdate, EvalResult>, BoundedMultiInput {
  private static final long serialVersionUID = 1L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(RetrievalEvaluator.class);
  public static final List<String> METRICS = List.of("precision_at_1", "mean_average_precision_at_r");

  private final int maxRecords;

  private transient List<LabeledVector> heldOut;
  private transient List<ModelUpdate> pending;
  private transient boolean heldOutComplete;
  private transient long lastEvaluated;
  private transient ListState<LabeledVector> heldOutState;
  private transient ListState<ModelUpdate> pendingState;
  private transient ListState<Long> progressState;
  private transient EvalResult last;

  /** @param maxRecords held-out records to keep (the rest of the held-out stream is ignored) */
  public RetrievalEvaluator(int maxRecords) {
    if (maxRecords < 2) {
      throw new IllegalArgumentException("maxRecords must be >= 2, got " + maxRecords);
    }
    this.maxRecords = maxRecords;
  }

  /** {@code heldOut.connect(models) → evaluator} at parallelism 1 (uid "pml4j-evaluator"). */
  public static SingleOutputStreamOperator<EvalResult> apply(DataStream<LabeledVector> heldOut,
      DataStream<ModelUpdate> models, int maxRecords) {
    return heldOut.connect(models).transform("pml4j-evaluator", TypeInformation.of(EvalResult.class),
        new RetrievalEvaluator(maxRecords)).uid("pml4j-evaluator").setParallelism(1).setMaxParallelism(1);
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
    pending = new ArrayList<>();
    heldOutComplete = false;
    lastEvaluated = -1;
    if (context.isRestored()) {
      heldOutState.get().forEach(heldOut::add);
      pendingState.get().forEach(pending::add);
      List<Long> p = new ArrayList<>();
      progressState.get().forEach(p::add);
      if (p.size() == 2) {
        lastEvaluated = p.get(0);
        heldOutComplete = p.get(1) != 0;
      }
    }
  }

  @Override
  public void open() throws Exception {
    super.open();
    Torch.ensureLoaded();
    Torch.setNumThreads(1);
    var g = getMetricGroup();
    g.gauge("evaluatedVersion", (Gauge<Long>) () -> lastEvaluated);
    g.gauge("precisionAt1", (Gauge<Double>) () -> last == null ? Double.NaN : last.precisionAt1);
    g.gauge("meanAveragePrecisionAtR", (Gauge<Double>) () -> last == null ? Double.NaN
        : last.meanAveragePrecisionAtR);
    g.gauge("heldOutRecords", (Gauge<Integer>) () -> heldOut.size());
  }

  @Override
  public void snapshotState(StateSnapshotContext context) throws Exception {
    super.snapshotState(context);
    heldOutState.update(new ArrayList<>(heldOut));
    pendingState.update(new ArrayList<>(pending));
    progressState.update(List.of(lastEvaluated, heldOutComplete ? 1L : 0L));
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
    if (m.version <= lastEvaluated || pending.stream().anyMatch(p -> p.version == m.version)) {
      return;
    }
    if (heldOutComplete) {
      evaluate(m);
    } else {
      pending.add(m);
    }
  }

  @Override
  public void endInput(int inputId) {
    if (inputId == 1) {
      completeHeldOut();
    }
  }

  private void completeHeldOut() {
    if (heldOutComplete) {
      return;
    }
    heldOutComplete = true;
    pending.sort(Comparator.comparingLong(p -> p.version));
    for (ModelUpdate m : pending) {
      if (m.version > lastEvaluated) {
        evaluate(m);
      }
    }
    pending.clear();
  }

  private void evaluate(ModelUpdate m) {
    lastEvaluated = m.version;
    if (heldOut.size() < 2) {
      LOGGER.warn("pml4j evaluator: {} held-out records; version {} not evaluated", heldOut.size(), m.version);
      return;
    }
    float[][] rows = new float[heldOut.size()][];
    long[] labels = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = heldOut.get(i).features;
      labels[i] = heldOut.get(i).label;
    }
    Map<String, Double> metrics = accuracy(m.onnx, rows, labels);
    last = new EvalResult(m.version, m.step, metrics.get("precision_at_1"),
        metrics.get("mean_average_precision_at_r"), rows.length, System.currentTimeMillis());
    LOGGER.info("pml4j evaluator: {}", last);
    output.collect(new StreamRecord<>(last));
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
        AccuracyCalculator.MAX_BIN_COUNT, null, null);
    try (Scope s = Scope.open()) {
      Tensor q = Tensors.floats(embeddings);
      Tensor l = Tensors.longs(labels);
      Map<String, Object> r = calc.getAccuracy(q, l);
      return Map.of("precision_at_1", ((Number) r.get("precision_at_1")).doubleValue(),
          "mean_average_precision_at_r", ((Number) r.get("mean_average_precision_at_r")).doubleValue());
    }
  }
}
