package org.pml4j.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
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
import org.apache.flink.streaming.api.functions.co.BroadcastProcessFunction;
import org.apache.flink.util.Collector;
import org.pml4j.onnx.OnnxEncoder;

/**
 * One shard of the retrieval index: the catalog items whose {@code floorMod(id, shards)} is this subtask's index
 * (the catalog stream is partitioned so), a {@link VersionedIndex} over them, and the broadcast input of models and
 * queries ({@link ShardInput}).
 *
 * <ul>
 *   <li><b>Versions.</b> A model version is selected when it is the first or was created at least
 *       {@code minRefreshIntervalMs} after the last selected one (the rate limit, decided on the broadcast models
 *       alone, so every shard selects the same versions). A selected version is kept in broadcast state and queued in
 *       the index, which re-embeds all items with it on its background thread (ONNX Runtime, 1 thread) and swaps it
 *       in when complete; the task thread goes on applying catalog records and answering queries meanwhile.
 *   <li><b>Queries</b> are embedded by each complete version's own encoder (here, not in the merger: the shard
 *       already holds each version's encoder, and only then is the query embedding guaranteed to be of the same
 *       version as the catalog embeddings it is ranked against). The shard sends one {@link ShardAnswer} per complete
 *       version it holds (the newest {@code retained}); a query that arrives before the shard has any complete
 *       version waits (a build in progress is awaited; without any model it is buffered in state).
 *   <li><b>State.</b> Raw items (union list state: on restore each subtask keeps the items of its own ids, so a
 *       rescale redistributes them correctly), the serving version id, the count of applied catalog records and any
 *       buffered queries; the selected models in broadcast state. After a restore the shard rebuilds the newest
 *       selected model from the raw items and answers only once that build is complete.
 * </ul>
 *
 * <p>Metrics (operator group): {@code indexVersion}, {@code buildingVersion}, {@code items}, {@code refreshMs}
 * (histogram: a version's creation in the trainer to this shard serving it) and {@code lastRefreshMs},
 * {@code answered}. Refresh times also go into the job accumulator {@value #REFRESH_ACCUMULATOR}.
 */
public class RetrievalShard extends BroadcastProcessFunction<CatalogRecord, ShardInput, ShardAnswer>
    implements CheckpointedFunction {
  private static final long serialVersionUID = 1L;

  /** Broadcast state: selected models by version. */
  public static final MapStateDescriptor<Long, ModelUpdate> MODELS =
      new MapStateDescriptor<>("pml4j-retrieval-models", Types.LONG, TypeInformation.of(ModelUpdate.class));
  /** Job accumulator: refresh times in ms (model creation to a shard serving it), one entry per shard and version. */
  public static final String REFRESH_ACCUMULATOR = "pml4j.retrieval.refresh_ms";
  /** Job accumulator: {@code "version:ms"} per shard and refreshed version (a list of strings). */
  public static final String REFRESHES_ACCUMULATOR = "pml4j.retrieval.refreshes";
  /** Job accumulator: items held by the shards when they close (a long counter). */
  public static final String ITEMS_ACCUMULATOR = "pml4j.retrieval.items";
  /** Models kept in broadcast state (the newest selected ones). */
  static final int MODELS_KEPT = 4;
  /** Longest wait for a build before a query fails the task. */
  static final long BUILD_TIMEOUT_MS = 10 * 60_000L;

  private final int chunkSize;
  private final int retained;
  private final long minRefreshIntervalMs;

  private transient VersionedIndex index;
  private transient ListState<CatalogRecord> itemsState;
  private transient ListState<Long> metaState;
  private transient ListState<Query> pendingState;
  private transient List<Query> pending;
  private transient long catalogOps;
  private transient long restoredVersion;
  private transient long rebuiltOnRestore;
  private transient Map<Long, Long> createdAt;
  private transient ConcurrentLinkedQueue<long[]> refreshed;
  private transient Counter answered;
  private transient Histogram refreshMs;
  private transient long lastRefreshMs;
  private transient org.apache.flink.api.common.accumulators.Histogram refreshAccumulator;
  private transient org.apache.flink.api.common.accumulators.ListAccumulator<String> refreshList;

  /**
   * @param chunkSize rows per ONNX Runtime call when re-embedding
   * @param retained complete versions kept and answered for (2: the newest and the previous)
   * @param minRefreshIntervalMs {@code retrieval.min_refresh_interval}: the least time between the creation of two
   *     selected versions (0: every version)
   */
  public RetrievalShard(int chunkSize, int retained, long minRefreshIntervalMs) {
    if (chunkSize < 1 || retained < 1 || minRefreshIntervalMs < 0) {
      throw new IllegalArgumentException("chunkSize and retained must be >= 1 and minRefreshIntervalMs >= 0, got "
          + chunkSize + ", " + retained + ", " + minRefreshIntervalMs);
    }
    this.chunkSize = chunkSize;
    this.retained = retained;
    this.minRefreshIntervalMs = minRefreshIntervalMs;
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    createdAt = new java.util.concurrent.ConcurrentHashMap<>();
    refreshed = new ConcurrentLinkedQueue<>();
    index = new VersionedIndex(chunkSize, retained,
        (v, ms) -> refreshed.add(new long[] {v, System.currentTimeMillis()}));
    pending = new ArrayList<>();
    itemsState = context.getOperatorStateStore().getUnionListState(
        new ListStateDescriptor<>("pml4j-retrieval-items", TypeInformation.of(CatalogRecord.class)));
    metaState = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("pml4j-retrieval-meta", Types.LONG));
    pendingState = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("pml4j-retrieval-pending", TypeInformation.of(Query.class)));
    restoredVersion = -1;
    rebuiltOnRestore = -1; // (transient: no field initializer runs after deserialization)
    if (context.isRestored()) {
      int me = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
      int n = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
      for (CatalogRecord r : itemsState.get()) {
        if (Math.floorMod(r.id, n) == me) {
          index.upsert(r.id, r.vector, r.label);
        }
      }
      List<Long> meta = new ArrayList<>();
      metaState.get().forEach(meta::add);
      if (meta.size() >= 2) {
        restoredVersion = meta.get(0);
        catalogOps = meta.get(1);
      }
      pendingState.get().forEach(pending::add);
      BroadcastState<Long, ModelUpdate> models = context.getOperatorStateStore().getBroadcastState(MODELS);
      ModelUpdate newest = null;
      for (Map.Entry<Long, ModelUpdate> e : models.entries()) {
        if (newest == null || e.getKey() > newest.version) {
          newest = e.getValue();
        }
      }
      if (newest != null) {
        rebuiltOnRestore = newest.version;
        install(newest); // rebuilt from the raw items; queries wait for it
      }
    }
  }

  @Override
  public void open(OpenContext openContext) {
    var g = getRuntimeContext().getMetricGroup();
    answered = g.counter("answered");
    refreshMs = g.histogram("refreshMs", new DescriptiveStatisticsHistogram(1000));
    g.gauge("lastRefreshMs", (Gauge<Long>) () -> lastRefreshMs);
    g.gauge("indexVersion", (Gauge<Long>) () -> index.servingVersion());
    g.gauge("buildingVersion", (Gauge<Long>) () -> index.buildingVersion());
    g.gauge("items", (Gauge<Integer>) () -> index.size());
    refreshAccumulator = getRuntimeContext().getHistogram(REFRESH_ACCUMULATOR);
    refreshList = new org.apache.flink.api.common.accumulators.ListAccumulator<>();
    getRuntimeContext().addAccumulator(REFRESHES_ACCUMULATOR, refreshList);
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    List<CatalogRecord> items = new ArrayList<>();
    for (VersionedIndex.Item it : index.items()) {
      items.add(CatalogRecord.upsert(it.id(), it.raw(), it.label()));
    }
    itemsState.update(items);
    long serving = index.servingVersion();
    metaState.update(List.of(serving >= 0 ? serving : restoredVersion, catalogOps));
    pendingState.update(new ArrayList<>(pending));
  }

  @Override
  public void processElement(CatalogRecord r, ReadOnlyContext ctx, Collector<ShardAnswer> out) throws Exception {
    if (r.isDelete()) {
      index.delete(r.id);
    } else {
      index.upsert(r.id, r.vector, r.label);
    }
    catalogOps++;
    drainRefreshes();
    if (!pending.isEmpty() && index.servingVersion() >= 0) {
      flush(out);
    }
  }

  @Override
  public void processBroadcastElement(ShardInput in, Context ctx, Collector<ShardAnswer> out) throws Exception {
    if (in.model != null) {
      BroadcastState<Long, ModelUpdate> models = ctx.getBroadcastState(MODELS);
      long newest = -1;
      long newestCreated = Long.MIN_VALUE;
      for (Map.Entry<Long, ModelUpdate> e : models.entries()) {
        if (e.getKey() > newest) {
          newest = e.getKey();
          newestCreated = e.getValue().createdAtMillis;
        }
      }
      ModelUpdate m = in.model;
      if (m.version > newest && (newest < 0 || m.createdAtMillis - newestCreated >= minRefreshIntervalMs)) {
        models.put(m.version, m);
        List<Long> versions = new ArrayList<>();
        for (Map.Entry<Long, ModelUpdate> e : models.entries()) {
          versions.add(e.getKey());
        }
        versions.sort(null);
        for (int i = 0; i < versions.size() - MODELS_KEPT; i++) {
          models.remove(versions.get(i));
        }
        install(m);
        if (!pending.isEmpty()) {
          flush(out);
        }
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
    drainRefreshes();
  }

  private void install(ModelUpdate m) {
    OnnxEncoder enc = OnnxEncoder.load(m.onnx, new OnnxEncoder.Options(1, Math.max(chunkSize, 1)));
    createdAt.put(m.version, m.createdAtMillis);
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
      answer(q, out, true);
    }
  }

  private void answer(Query q, Collector<ShardAnswer> out) throws InterruptedException {
    answer(q, out, false);
  }

  private void answer(Query q, Collector<ShardAnswer> out, boolean waited) throws InterruptedException {
    if (index.servingVersion() < 0) {
      waited = true;
    }
    if (index.servingVersion() < 0 && !index.awaitComplete(BUILD_TIMEOUT_MS)) {
      throw new IllegalStateException("retrieval shard: no index version complete after " + BUILD_TIMEOUT_MS
          + " ms (building " + index.buildingVersion() + ")");
    }
    List<VersionedIndex.VersionHits> hits = index.search(q.vector, q.k);
    int me = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
    int n = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
    for (VersionedIndex.VersionHits h : hits) {
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
      a.waited = waited;
      out.collect(a);
    }
    answered.inc();
  }

  private void drainRefreshes() {
    long[] r;
    while ((r = refreshed.poll()) != null) {
      Long created = createdAt.remove(r[0]);
      if (created != null && rebuiltOnRestore != r[0]) { // a restore's downtime is no refresh time
        lastRefreshMs = Math.max(0, r[1] - created);
        refreshMs.update(lastRefreshMs);
        refreshAccumulator.add((int) Math.min(Integer.MAX_VALUE, lastRefreshMs));
        refreshList.add(r[0] + ":" + lastRefreshMs);
      }
    }
  }

  /** The index (for tests and metrics). */
  VersionedIndex index() {
    return index;
  }

  @Override
  public void close() throws Exception {
    if (index != null && getRuntimeContext() != null) {
      getRuntimeContext().getLongCounter(ITEMS_ACCUMULATOR).add(index.size());
    }
    if (index != null) {
      index.close();
    }
    super.close();
  }
}
