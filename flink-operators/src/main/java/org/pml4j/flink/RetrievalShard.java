package org.pml4j.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.co.KeyedBroadcastProcessFunction;
import org.apache.flink.util.Collector;
import org.pml4j.onnx.OnnxEncoder;

/**
 * One shard of the retrieval index: the catalog items of the ids (keys) assigned to this subtask, a
 * {@link VersionedIndex} over them, and the broadcast input of models and queries ({@link ShardInput}).
 *
 * <ul>
 *   <li><b>Versions.</b> A model version is selected when it is the first or was created at least
 *       {@code minRefreshIntervalMs} after the last selected one (the rate limit, decided on the broadcast models
 *       alone, so every shard selects the same versions). A selected version is kept in broadcast state and queued in
 *       the index, which re-embeds all items with it on its background thread (ONNX Runtime, 1 thread) and swaps it
 *       in when complete; the task thread goes on applying catalog records and answering queries meanwhile.
 *   <li><b>Queries</b> are embedded by each complete version's own encoder (here, not in the merger: only then is the
 *       query embedding guaranteed to be of the same version as the catalog embeddings it is ranked against). The
 *       shard sends one {@link ShardAnswer} per complete version it holds (the newest {@code retained}); a query that
 *       arrives before the shard has any complete version waits (a build in progress is awaited; without any model
 *       it is buffered in state). Such a query, and every query that entered the job before this shard first served
 *       a version (the start-up or a restore, including those queued behind the wait), is marked {@code waited}.
 *   <li><b>State.</b> Each raw item is keyed state ({@value #ITEM_STATE}, one value per id): with the RocksDB state
 *       backend and incremental checkpoints a checkpoint writes only the items changed since the last one, and a
 *       rescale moves key groups. Operator state: the count of applied catalog records and buffered queries; the
 *       newest selected model in broadcast state. Embeddings are not checkpointed: after a restore the shard re-adds
 *       its items from keyed state to the index and rebuilds the newest selected model from them (at its first
 *       broadcast input: only there can a function read all its keys), and answers only once that build is complete.
 * </ul>
 *
 * <p>Readiness: given {@link ServingMarks}, the shard writes its mark when it first serves a version (and, when the
 * marks wait for the catalog, rewrites its applied catalog count every {@value ServingMarks#UPDATE_MILLIS} ms while it
 * changes), so the generated query source starts once every shard is ready.
 *
 * <p>Metrics and the refresh timeline: {@link ShardMetrics}.
 */
public class RetrievalShard extends KeyedBroadcastProcessFunction<Long, CatalogRecord, ShardInput, ShardAnswer>
    implements CheckpointedFunction {
  private static final long serialVersionUID = 1L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(RetrievalShard.class);

  /** Broadcast state: selected models by version. */
  public static final MapStateDescriptor<Long, ModelUpdate> MODELS =
      new MapStateDescriptor<>("pml4j-retrieval-models", Types.LONG, TypeInformation.of(ModelUpdate.class));
  /** Keyed state: the raw item of an id. */
  static final String ITEM_STATE = "pml4j-retrieval-item";
  static final ValueStateDescriptor<CatalogRecord> ITEM =
      new ValueStateDescriptor<>(ITEM_STATE, TypeInformation.of(CatalogRecord.class));
  /** Job accumulator: {@code "version:total:arrive:load:wait:build:buildCpu"} (ms) per shard and refreshed version. */
  public static final String REFRESHES_ACCUMULATOR = ShardMetrics.REFRESHES_ACCUMULATOR;
  /** Job accumulator: items held by the shards when they close (a long counter). */
  public static final String ITEMS_ACCUMULATOR = ShardMetrics.ITEMS_ACCUMULATOR;
  /**
   * Models kept in broadcast state: the newest selected one only (a restore rebuilds it alone; the rate limit needs
   * its creation time). Broadcast state is written whole by every subtask at every checkpoint: each model kept costs
   * its ONNX bytes per shard per checkpoint (about 0.9 MB for the Fashion-MNIST encoder).
   */
  static final int MODELS_KEPT = 1;
  /** Longest wait for a build before a query fails the task. */
  static final long BUILD_TIMEOUT_MS = 10 * 60_000L;

  private final int chunkSize;
  private final int retained;
  private final long minRefreshIntervalMs;
  private final BackgroundPriority builderPriority;
  private final long previousVersionGraceMs;
  /** Where the shard marks that it serves (the generated queries' readiness gate); null: no marks. */
  private final ServingMarks servingMarks;

  private transient VersionedIndex index;
  private transient ShardMetrics metrics;
  private transient ValueState<CatalogRecord> item;
  private transient ListState<Long> opsState;
  private transient ListState<Query> pendingState;
  private transient List<Query> pending;
  /** Catalog records applied (written by the task thread only; read by the serving-mark updater). */
  private transient volatile long catalogOps;
  /** The newest selected model at a restore, installed once the items are back in the index (null: none due). */
  private transient ModelUpdate restoredModel;
  private transient boolean itemsToRestore;
  private transient volatile int subtask;
  private transient boolean marked;
  /** Rewrites the serving mark while the applied catalog count changes ({@link ServingMarks#waitsForCatalog}). */
  private transient volatile java.util.concurrent.ScheduledExecutorService markUpdater;

  /**
   * @param chunkSize rows per ONNX Runtime call when re-embedding
   * @param retained complete versions kept and answered for (2: the newest and the previous)
   * @param minRefreshIntervalMs {@code retrieval.min_refresh_interval}: the least time between the creation of two
   *     selected versions (0: every version)
   * @param builderPriority the scheduling priority of the index's builder thread
   * @param previousVersionGraceMs {@link VersionedIndex#previousVersionGrace}
   */
  public RetrievalShard(int chunkSize, int retained, long minRefreshIntervalMs, BackgroundPriority builderPriority,
      long previousVersionGraceMs) {
    this(chunkSize, retained, minRefreshIntervalMs, builderPriority, previousVersionGraceMs, null);
  }

  /**
   * A shard that also writes its {@link ServingMarks} mark when it first serves a version (from the builder thread,
   * at the swap; again after a restore).
   *
   * @param servingMarks the marks, or null for none
   */
  RetrievalShard(int chunkSize, int retained, long minRefreshIntervalMs, BackgroundPriority builderPriority,
      long previousVersionGraceMs, ServingMarks servingMarks) {
    if (chunkSize < 1 || retained < 1 || minRefreshIntervalMs < 0 || previousVersionGraceMs < -1) {
      throw new IllegalArgumentException("chunkSize and retained must be >= 1 and minRefreshIntervalMs >= 0, got "
          + chunkSize + ", " + retained + ", " + minRefreshIntervalMs
          + " (grace >= -1: " + previousVersionGraceMs + ")");
    }
    this.chunkSize = chunkSize;
    this.retained = retained;
    this.minRefreshIntervalMs = minRefreshIntervalMs;
    this.builderPriority = builderPriority;
    this.previousVersionGraceMs = previousVersionGraceMs;
    this.servingMarks = servingMarks;
  }

  /** A shard whose builder runs at the task threads' priority, answering in every retained version. */
  public RetrievalShard(int chunkSize, int retained, long minRefreshIntervalMs) {
    this(chunkSize, retained, minRefreshIntervalMs, BackgroundPriority.NORMAL, -1);
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    metrics = new ShardMetrics();
    index = new VersionedIndex(chunkSize, retained, this::refreshed, builderPriority);
    index.previousVersionGrace(previousVersionGraceMs);
    pending = new ArrayList<>();
    opsState = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("pml4j-retrieval-catalog-ops", Types.LONG));
    pendingState = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("pml4j-retrieval-pending", TypeInformation.of(Query.class)));
    if (context.isRestored()) {
      itemsToRestore = true;
      opsState.get().forEach(n -> catalogOps += n);
      pendingState.get().forEach(pending::add);
      BroadcastState<Long, ModelUpdate> models = context.getOperatorStateStore().getBroadcastState(MODELS);
      for (Map.Entry<Long, ModelUpdate> e : models.entries()) {
        if (restoredModel == null || e.getKey() > restoredModel.version) {
          restoredModel = e.getValue();
        }
      }
    }
  }

  /**
   * The index's refresh listener (builder thread): metrics, and the serving mark at the first version, after the
   * scan's JIT warm-up ({@link ExactTopK#warmUp}).
   */
  private void refreshed(long version, long millis, long buildMillis, long buildCpuMillis) {
    metrics.refreshed(version, millis, buildMillis, buildCpuMillis);
    if (servingMarks != null && !marked) {
      ExactTopK.warmUp();
      marked = true;
      // One read of the count for the mark and the updater's "written": reading it twice lost the records applied
      // between the two reads (the mark stayed short of the catalog, and the gate waited for its time-out).
      long ops0 = catalogOps;
      servingMarks.mark(subtask, version, ops0);
      if (servingMarks.waitsForCatalog()) {
        markUpdater = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "pml4j-retrieval-serving-mark-" + subtask);
          t.setDaemon(true);
          return t;
        });
        long[] written = {ops0};
        markUpdater.scheduleWithFixedDelay(() -> {
          long ops = catalogOps;
          if (ops != written[0]) {
            try {
              servingMarks.mark(subtask, version, ops);
              written[0] = ops;
            } catch (RuntimeException e) { // a scheduled task that throws is never run again: log and retry
              LOGGER.warn("retrieval shard {}: cannot update its serving mark", subtask, e);
            }
          }
        }, ServingMarks.UPDATE_MILLIS, ServingMarks.UPDATE_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
      }
    }
  }

  @Override
  public void open(OpenContext openContext) {
    subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    item = getRuntimeContext().getState(ITEM);
    metrics.open(getRuntimeContext(), index);
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    opsState.update(List.of(catalogOps));
    pendingState.update(new ArrayList<>(pending));
  }

  @Override
  public void processElement(CatalogRecord r, ReadOnlyContext ctx, Collector<ShardAnswer> out) throws Exception {
    if (r.isDelete()) {
      item.clear();
      index.delete(r.id);
    } else {
      item.update(r);
      index.upsert(r.id, r.vector, r.label);
    }
    catalogOps++;
    metrics.drain();
    if (!pending.isEmpty() && index.servingVersion() >= 0) {
      flush(out);
    }
  }

  @Override
  public void processBroadcastElement(ShardInput in, Context ctx, Collector<ShardAnswer> out) throws Exception {
    if (itemsToRestore) {
      itemsToRestore = false;
      ctx.applyToKeyedState(ITEM, (id, s) -> {
        CatalogRecord r = s.value();
        if (r != null) {
          index.upsert(id, r.vector, r.label);
        }
      });
      if (restoredModel != null) {
        install(restoredModel, System.currentTimeMillis());
        metrics.forget(restoredModel.version); // a restore's downtime is no refresh time
      }
    }
    if (in.model != null && select(in.model, ctx.getBroadcastState(MODELS))) {
      install(in.model, System.currentTimeMillis());
      if (!pending.isEmpty()) {
        flush(out);
      }
    }
    if (in.query != null) {
      if (index.servingVersion() < 0 && !index.busy()) {
        pending.add(in.query); // no model yet
      } else {
        if (!pending.isEmpty()) {
          flush(out);
        }
        answer(in.query, out);
      }
    }
    metrics.drain();
  }

  /** Applies the rate limit; a selected model is put in broadcast state (the newest {@value #MODELS_KEPT} kept). */
  private boolean select(ModelUpdate m, BroadcastState<Long, ModelUpdate> models) throws Exception {
    long newest = -1;
    long newestCreated = Long.MIN_VALUE;
    List<Long> versions = new ArrayList<>();
    for (Map.Entry<Long, ModelUpdate> e : models.entries()) {
      versions.add(e.getKey());
      if (e.getKey() > newest) {
        newest = e.getKey();
        newestCreated = e.getValue().createdAtMillis;
      }
    }
    if (m.version <= newest || (newest >= 0 && m.createdAtMillis - newestCreated < minRefreshIntervalMs)) {
      return false;
    }
    models.put(m.version, m);
    versions.add(m.version);
    versions.sort(null);
    for (int i = 0; i < versions.size() - MODELS_KEPT; i++) {
      models.remove(versions.get(i));
    }
    return true;
  }

  private void install(ModelUpdate m, long arrivedMillis) {
    OnnxEncoder enc = OnnxEncoder.load(m.onnx, new OnnxEncoder.Options(1, Math.max(chunkSize, 1)));
    metrics.arrived(m, arrivedMillis);
    index.addVersion(m.version, new VersionedIndex.Encoder() {
      @Override
      public float[][] embed(float[][] rows) {
        return enc.embed(rows);
      }

      @Override
      public void close() {
        enc.close();
      }
    });
  }

  private void flush(Collector<ShardAnswer> out) throws InterruptedException {
    List<Query> qs = new ArrayList<>(pending);
    pending.clear();
    for (Query q : qs) {
      answer(q, out);
    }
  }

  private void answer(Query q, Collector<ShardAnswer> out) throws InterruptedException {
    if (index.servingVersion() < 0 && !index.awaitComplete(BUILD_TIMEOUT_MS)) {
      throw new IllegalStateException("retrieval shard: no index version complete after " + BUILD_TIMEOUT_MS
          + " ms (building " + index.buildingVersion() + ")");
    }
    long start = System.currentTimeMillis();
    long cpu = ShardMetrics.cpuNow();
    List<VersionHits> hits = index.search(q.vector, q.k);
    long end = System.currentTimeMillis();
    int me = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    int n = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
    for (VersionHits h : hits) {
      ShardAnswer a = new ShardAnswer();
      a.qid = q.qid;
      a.k = q.k;
      a.shard = me;
      a.shards = n;
      a.parts = hits.size();
      a.version = h.version();
      a.ids = h.ids();
      a.scores = h.scores();
      a.catalogOps = catalogOps;
      a.queryInMillis = q.inMillis;
      a.shardStartMillis = start;
      a.shardEndMillis = end;
      a.waited = q.inMillis < metrics.firstServingMillis();
      out.collect(a);
    }
    metrics.answered(cpu);
  }

  /** The index (for tests and metrics). */
  VersionedIndex index() {
    return index;
  }

  @Override
  public void close() throws Exception {
    if (markUpdater != null) {
      markUpdater.shutdownNow();
    }
    if (index != null) {
      ShardMetrics.items(getRuntimeContext(), index.size());
      index.close();
    }
    super.close();
  }
}
