package org.pml4j.flink;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.BroadcastStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.co.BroadcastProcessFunction;
import org.apache.flink.util.Collector;
import org.pml4j.onnx.OnnxEncoder;

/**
 * Embeds a query/catalog stream of {@link LabeledVector} with the newest model: a {@link BroadcastProcessFunction}
 * whose broadcast side is the {@link ModelUpdate} stream of the trainer.
 *
 * <ul>
 *   <li>The newest model is kept in broadcast state ({@link #MODELS}, key {@value #LATEST}); a newer version replaces
 *       it, an older or equal one (a replay after recovery) is ignored. A restored job loads it in
 *       {@link #initializeState} and serves at once, without waiting for the trainer.
 *   <li>Records that arrive before any model are buffered in operator state and embedded, in order, when the first
 *       model arrives. (Records still buffered when the job ends without any model are not emitted.)
 *   <li>Every output is tagged with the version of the model that produced it ({@link Embedding#modelVersion}).
 *   <li>Inference runs in ONNX Runtime ({@link OnnxEncoder}, 1 intra-op thread per subtask: scale with parallelism).
 * </ul>
 *
 * <p>Metrics (operator group): {@code modelVersion}, {@code embedded}, {@code buffered}, {@code refreshLatencyMs}
 * (histogram) and {@code lastRefreshLatencyMs}: the time from a model's creation in the trainer
 * ({@link ModelUpdate#createdAtMillis}) to the first record this subtask embedded with it. The latencies also go into
 * the job accumulator {@value #LATENCY_ACCUMULATOR} (a histogram of milliseconds).
 */
public class EmbedOperator extends BroadcastProcessFunction<LabeledVector, ModelUpdate, Embedding>
    implements CheckpointedFunction {
  private static final long serialVersionUID = 1L;

  /** The broadcast state holding the newest model. */
  public static final MapStateDescriptor<String, ModelUpdate> MODELS =
      new MapStateDescriptor<>("pml4j-models", Types.STRING, TypeInformation.of(ModelUpdate.class));
  public static final String LATEST = "latest";
  /** Job accumulator: refresh latencies in ms (an {@code org.apache.flink.api.common.accumulators.Histogram}). */
  public static final String LATENCY_ACCUMULATOR = "pml4j.refresh_latency_ms";

  private transient OnnxEncoder encoder;
  private transient long servingVersion;
  private transient long pendingCreatedAt;
  private transient List<LabeledVector> buffer;
  private transient ListState<LabeledVector> bufferState;
  private transient Counter embedded;
  private transient Histogram latency;
  private transient long lastLatency;
  private transient org.apache.flink.api.common.accumulators.Histogram latencyAccumulator;

  /**
   * Connects a query stream to the model stream: {@code queries.connect(models.broadcast(MODELS)).process(new
   * EmbedOperator())} at the given parallelism (uid "pml4j-embed").
   */
  public static SingleOutputStreamOperator<Embedding> apply(DataStream<LabeledVector> queries,
      DataStream<ModelUpdate> models, int parallelism) {
    BroadcastStream<ModelUpdate> b = models.broadcast(MODELS);
    return queries.connect(b).process(new EmbedOperator(), TypeInformation.of(Embedding.class)).name("pml4j-embed")
        .uid("pml4j-embed").setParallelism(parallelism);
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    bufferState = context.getOperatorStateStore()
        .getListState(new ListStateDescriptor<>("pml4j-embed-buffer", TypeInformation.of(LabeledVector.class)));
    buffer = new ArrayList<>();
    servingVersion = -1;
    pendingCreatedAt = -1;
    if (context.isRestored()) {
      for (LabeledVector v : bufferState.get()) {
        buffer.add(v);
      }
      BroadcastState<String, ModelUpdate> models = context.getOperatorStateStore().getBroadcastState(MODELS);
      ModelUpdate latest = models.get(LATEST);
      if (latest != null) {
        install(latest);
        pendingCreatedAt = -1; // the restore's downtime is not a refresh latency
      }
    }
  }

  @Override
  public void open(OpenContext openContext) {
    var g = getRuntimeContext().getMetricGroup();
    embedded = g.counter("embedded");
    latency = g.histogram("refreshLatencyMs", new DescriptiveStatisticsHistogram(1000));
    g.gauge("lastRefreshLatencyMs", (Gauge<Long>) () -> lastLatency);
    g.gauge("modelVersion", (Gauge<Long>) () -> servingVersion);
    g.gauge("buffered", (Gauge<Integer>) () -> buffer.size());
    latencyAccumulator = getRuntimeContext().getHistogram(LATENCY_ACCUMULATOR);
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    bufferState.update(new ArrayList<>(buffer));
  }

  @Override
  public void processElement(LabeledVector value, ReadOnlyContext ctx, Collector<Embedding> out) {
    if (encoder == null) {
      buffer.add(value);
      return;
    }
    if (!buffer.isEmpty()) {
      flush(out); // records restored into the buffer together with a model: serve them first, in order
    }
    float[] e = encoder.embed(value.features);
    served();
    embedded.inc();
    out.collect(new Embedding(value.id, e, servingVersion, value.label));
  }

  @Override
  public void processBroadcastElement(ModelUpdate update, Context ctx, Collector<Embedding> out)
      throws Exception {
    if (update.version <= servingVersion) {
      return; // a replay after recovery, or out of order: keep the newer model
    }
    ctx.getBroadcastState(MODELS).put(LATEST, update);
    install(update);
    flush(out);
  }

  /** Embeds the buffered records, in arrival order, with the current model. */
  private void flush(Collector<Embedding> out) {
    if (buffer.isEmpty()) {
      return;
    }
    float[][] rows = new float[buffer.size()][];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = buffer.get(i).features;
    }
    float[][] e = encoder.embed(rows);
    served();
    for (int i = 0; i < rows.length; i++) {
      LabeledVector v = buffer.get(i);
      embedded.inc();
      out.collect(new Embedding(v.id, e[i], servingVersion, v.label));
    }
    buffer.clear();
  }

  private void install(ModelUpdate update) {
    OnnxEncoder next = OnnxEncoder.load(update.onnx, new OnnxEncoder.Options(1, 4096));
    if (encoder != null) {
      encoder.close();
    }
    encoder = next;
    servingVersion = update.version;
    pendingCreatedAt = update.createdAtMillis;
  }

  private void served() {
    if (pendingCreatedAt >= 0) {
      lastLatency = Math.max(0, System.currentTimeMillis() - pendingCreatedAt);
      pendingCreatedAt = -1;
      if (latency != null) {
        latency.update(lastLatency);
        latencyAccumulator.add((int) Math.min(Integer.MAX_VALUE, lastLatency));
      }
    }
  }

  /** The version now served, or -1 before the first model. */
  public long servingVersion() {
    return servingVersion;
  }

  @Override
  public void close() throws Exception {
    if (encoder != null) {
      encoder.close();
      encoder = null;
    }
    super.close();
  }
}
