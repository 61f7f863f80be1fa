package org.pml4j.flink;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The background rebuild of a {@link VersionedIndex}: one thread that re-embeds every raw item with a new version's
 * encoder in chunks of {@code chunkSize} rows, outside the index's lock, and hands each chunk and finally the swap to
 * the index (which checks, under its lock, that the version is still being built and that an item's raw vector has
 * not changed since the snapshot).
 */
final class IndexBuilder implements AutoCloseable {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
  private final VersionedIndex index;
  private final int chunkSize;
  private final BackgroundPriority priority;
  private final VersionedIndex.RefreshListener onRefresh;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "pml4j-retrieval-index-builder");
    t.setDaemon(true);
    return t;
  });

  IndexBuilder(VersionedIndex index, int chunkSize, BackgroundPriority priority,
      VersionedIndex.RefreshListener onRefresh) {
    this.index = index;
    this.chunkSize = chunkSize;
    this.priority = priority;
    this.onRefresh = onRefresh;
  }

  /** Builds {@code v} after the builds submitted before it. */
  void submit(IndexVersion v) {
    thread.execute(() -> build(v));
  }

  private void build(IndexVersion v) {
    try {
      long startNanos = System.nanoTime();
      long startCpu = CPU.getCurrentThreadCpuTime();
      priority.applyToCurrentThread(); // (each build: a pool thread may be replaced after a failure)
      List<CatalogItems.Item> snapshot = index.snapshotFor(v);
      if (snapshot == null) {
        return;
      }
      for (int from = 0; from < snapshot.size(); from += chunkSize) {
        List<CatalogItems.Item> chunk = snapshot.subList(from, Math.min(snapshot.size(), from + chunkSize));
        float[][] x = new float[chunk.size()][];
        for (int i = 0; i < x.length; i++) {
          x[i] = chunk.get(i).raw();
        }
        if (!index.commit(v, chunk, v.encoder.embed(x))) {
          return; // closed
        }
      }
      if (index.swap(v, startNanos) && onRefresh != null) {
        onRefresh.refreshed(v.version, (v.completedAtNanos - v.queuedAtNanos) / 1_000_000, v.buildNanos / 1_000_000,
            (CPU.getCurrentThreadCpuTime() - startCpu) / 1_000_000);
      }
    } catch (RuntimeException e) {
      index.failed(e);
    }
  }

  /** Stops the thread (interrupting a build) and waits up to 10 s for it. */
  @Override
  public void close() {
    thread.shutdownNow();
    try {
      thread.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
