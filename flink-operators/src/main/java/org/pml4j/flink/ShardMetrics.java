package org.pml4j.flink;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.flink.api.common.accumulators.ListAccumulator;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/**
 * The metrics and job accumulators of one {@link RetrievalShard}, and its refresh timeline: per indexed version, the
 * time from its creation in the trainer to this shard serving it, split into its parts (arrival at the shard, ONNX
 * Runtime session load, wait behind an older version's build, the build itself).
 *
 * <p>The index's builder thread reports a finished version ({@link #refreshed}); the task thread records it at its
 * next record ({@link #drain}), since Flink's metric and accumulator objects are not thread-safe.
 */
final class ShardMetrics {
  /**
   * Job accumulator: {@code "version:total:arrive:load:wait:build:buildCpu"} (ms) per shard and refreshed version.
   */
  static final String REFRESHES_ACCUMULATOR = "pml4j.retrieval.refreshes";
  /** Job accumulator: CPU time of the task thread per query answered (all its versions), in µs (a histogram). */
  static final String QUERY_CPU_ACCUMULATOR = "pml4j.retrieval.query_cpu_us";
  /** Job accumulator: items held by the shards when they close (a long counter). */
  static final String ITEMS_ACCUMULATOR = "pml4j.retrieval.items";

  /** When a version reached the shard: creation (trainer clock), arrival and loaded (ms since the epoch). */
  private record Arrival(long created, long arrived, long loaded) {}

  private final Map<Long, Arrival> arrivals = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<long[]> done = new ConcurrentLinkedQueue<>();
  private Counter answered;
  private Histogram refreshMs;
  private volatile long lastRefreshMs = -1;
  private volatile long firstServingMillis = Long.MAX_VALUE;
  private ListAccumulator<String> refreshList;
  private org.apache.flink.api.common.accumulators.Histogram queryCpu;
  private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

  void open(RuntimeContext rc, VersionedIndex index) {
    var g = rc.getMetricGroup();
    answered = g.counter("answered");
    refreshMs = g.histogram("refreshMs", new DescriptiveStatisticsHistogram(1000));
    g.gauge("lastRefreshMs", (Gauge<Long>) () -> lastRefreshMs);
    g.gauge("indexVersion", (Gauge<Long>) index::servingVersion);
    g.gauge("buildingVersion", (Gauge<Long>) index::buildingVersion);
    g.gauge("items", (Gauge<Integer>) index::size);
    refreshList = new ListAccumulator<>();
    rc.addAccumulator(REFRESHES_ACCUMULATOR, refreshList);
    queryCpu = rc.getHistogram(QUERY_CPU_ACCUMULATOR);
  }

  /** The task thread's CPU time now (ns), to pass to {@link #answered(long)}. */
  static long cpuNow() {
    return CPU.getCurrentThreadCpuTime();
  }

  /** A version arrived at {@code arrivedMillis} and its encoder was loaded by now. */
  void arrived(ModelUpdate m, long arrivedMillis) {
    arrivals.put(m.version, new Arrival(m.createdAtMillis, arrivedMillis, System.currentTimeMillis()));
  }

  /** A version that is rebuilt after a restore: its time is downtime, not refresh time. */
  void forget(long version) {
    arrivals.remove(version);
  }

  /** The index's refresh listener (builder thread). */
  void refreshed(long version, long millis, long buildMillis, long buildCpuMillis) {
    long now = System.currentTimeMillis();
    if (firstServingMillis == Long.MAX_VALUE) {
      firstServingMillis = now;
    }
    done.add(new long[] {version, now, millis, buildMillis, buildCpuMillis});
  }

  /**
   * When the shard's first version was swapped in (epoch ms; {@code Long.MAX_VALUE} before): a query that entered the
   * job earlier waited for the start-up (or a restore), and its latency is start-up, not serving, latency.
   */
  long firstServingMillis() {
    return firstServingMillis;
  }

  /** Records the refreshes reported since the last call (task thread). */
  void drain() {
    long[] r;
    while ((r = done.poll()) != null) {
      Arrival a = arrivals.remove(r[0]);
      if (a == null) {
        continue;
      }
      long total = Math.max(0, r[1] - a.created);
      lastRefreshMs = total;
      refreshMs.update(total);
      refreshList.add(r[0] + ":" + total + ":" + Math.max(0, a.arrived - a.created) + ":" + (a.loaded - a.arrived)
          + ":" + Math.max(0, r[2] - r[3]) + ":" + r[3] + ":" + r[4]);
    }
  }

  /** A query was answered; {@code cpuStart} from {@link #cpuNow} before it. */
  void answered(long cpuStart) {
    answered.inc();
    queryCpu.add((int) Math.min(Integer.MAX_VALUE, (cpuNow() - cpuStart) / 1000));
  }

  /** Adds the shard's item count to the job's total (at close). */
  static void items(RuntimeContext rc, int items) {
    rc.getLongCounter(ITEMS_ACCUMULATOR).add(items);
  }
}
