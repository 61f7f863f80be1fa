package org.pml4j.flink;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Merges the shards' answers to one query (keyed by qid): once every shard has sent all its parts, picks the newest
 * model version that every shard answered in, and merges the shards' top-k lists of that version into the global
 * top-k (score descending, then id ascending: deterministic on ties). Each shard's list is exact over its items, so
 * the merge is the exact k-NN of the whole catalog in that version.
 *
 * <p>A query for which the shards hold no common version (a shard more than {@code retained - 1} versions behind
 * another) is answered with {@code modelVersion = -1} and no ids on the side output {@link #NO_COMMON_VERSION},
 * never in mixed versions. Metrics: {@code answers}, {@code noCommonVersion}, {@code queryLatencyMs} (histogram: query
 * in to answer out); accumulator {@value #LATENCY_ACCUMULATOR}.
 */
public class AnswerMerger extends KeyedProcessFunction<Long, ShardAnswer, Answer> {
  private static final long serialVersionUID = 1L;

  /** Queries the shards could not answer in one common version. */
  public static final OutputTag<Answer> NO_COMMON_VERSION =
      new OutputTag<>("no-common-version", TypeInformation.of(Answer.class));
  /** Job accumulator: query latencies in ms. */
  public static final String LATENCY_ACCUMULATOR = "pml4j.retrieval.query_latency_ms";
  /** Job accumulator: latencies in ms of the queries that no shard made wait for its first index version. */
  public static final String SERVING_LATENCY_ACCUMULATOR = "pml4j.retrieval.query_latency_serving_ms";

  private transient ListState<ShardAnswer> parts;
  private transient Counter answers;
  private transient Counter noCommon;
  private transient Histogram latency;
  private transient org.apache.flink.api.common.accumulators.Histogram latencyAccumulator;
  private transient org.apache.flink.api.common.accumulators.Histogram servingAccumulator;

  @Override
  public void open(OpenContext openContext) {
    parts = getRuntimeContext().getListState(
        new ListStateDescriptor<>("pml4j-retrieval-parts", TypeInformation.of(ShardAnswer.class)));
    var g = getRuntimeContext().getMetricGroup();
    answers = g.counter("answers");
    noCommon = g.counter("noCommonVersion");
    latency = g.histogram("queryLatencyMs", new DescriptiveStatisticsHistogram(10_000));
    latencyAccumulator = getRuntimeContext().getHistogram(LATENCY_ACCUMULATOR);
    servingAccumulator = getRuntimeContext().getHistogram(SERVING_LATENCY_ACCUMULATOR);
  }

  @Override
  public void processElement(ShardAnswer a, Context ctx, Collector<Answer> out) throws Exception {
    parts.add(a);
    List<ShardAnswer> all = new ArrayList<>();
    parts.get().forEach(all::add);
    Answer merged = merge(all);
    if (merged == null) {
      return;
    }
    parts.clear();
    merged.answeredAtMillis = System.currentTimeMillis();
    long ms = Math.max(0, merged.answeredAtMillis - merged.queryInMillis);
    latency.update(ms);
    latencyAccumulator.add((int) Math.min(Integer.MAX_VALUE, ms));
    if (!merged.waited) {
      servingAccumulator.add((int) Math.min(Integer.MAX_VALUE, ms));
    }
    if (merged.modelVersion < 0) {
      noCommon.inc();
      ctx.output(NO_COMMON_VERSION, merged);
    } else {
      answers.inc();
      out.collect(merged);
    }
  }

  /**
   * The merged answer once every shard sent all its parts (null before): the newest version common to all shards,
   * or {@code modelVersion = -1} when there is none.
   */
  static Answer merge(List<ShardAnswer> all) {
    if (all.isEmpty()) {
      return null;
    }
    int shards = all.get(0).shards;
    Map<Integer, List<ShardAnswer>> byShard = new HashMap<>();
    for (ShardAnswer a : all) {
      byShard.computeIfAbsent(a.shard, s -> new ArrayList<>()).add(a);
    }
    if (byShard.size() < shards) {
      return null;
    }
    Set<Long> common = null;
    long ops = 0;
    boolean waited = false;
    for (List<ShardAnswer> l : byShard.values()) {
      if (l.size() < l.get(0).parts) {
        return null;
      }
      Set<Long> vs = new HashSet<>();
      l.forEach(a -> vs.add(a.version));
      ops += l.get(0).catalogOps;
      for (ShardAnswer a : l) {
        waited |= a.waited;
      }
      if (common == null) {
        common = vs;
      } else {
        common.retainAll(vs);
      }
    }
    ShardAnswer first = all.get(0);
    Answer out = new Answer(first.qid, -1, new long[0], new float[0]);
    out.catalogOps = ops;
    out.queryInMillis = first.queryInMillis;
    out.waited = waited;
    for (ShardAnswer a : all) {
      out.toShardMillis = Math.max(out.toShardMillis, a.shardStartMillis - a.queryInMillis);
      out.inShardMillis = Math.max(out.inShardMillis, a.shardEndMillis - a.shardStartMillis);
    }
    if (common.isEmpty()) {
      return out;
    }
    long v = common.stream().mapToLong(Long::longValue).max().getAsLong();
    int total = 0;
    for (ShardAnswer a : all) {
      if (a.version == v) {
        total += a.ids.length;
      }
    }
    long[] ids = new long[total];
    float[] scores = new float[total];
    int n = 0;
    for (ShardAnswer a : all) {
      if (a.version == v) {
        System.arraycopy(a.ids, 0, ids, n, a.ids.length);
        System.arraycopy(a.scores, 0, scores, n, a.scores.length);
        n += a.ids.length;
      }
    }
    Integer[] order = new Integer[total];
    for (int i = 0; i < total; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (x, y) -> ExactTopK.better(scores[x], ids[x], scores[y], ids[y]) ? -1
        : ExactTopK.better(scores[y], ids[y], scores[x], ids[x]) ? 1 : 0);
    int k = Math.min(first.k, total);
    out.modelVersion = v;
    out.ids = new long[k];
    out.scores = new float[k];
    for (int i = 0; i < k; i++) {
      out.ids[i] = ids[order[i]];
      out.scores[i] = scores[order[i]];
    }
    return out;
  }
}
