package org.pml4j.flink;

import java.util.ArrayList;
import java.util.List;

/**
 * The exact, versioned nearest-neighbour index of one shard, free of Flink: raw items by id, and for each model
 * version it holds, every item's embedding made by that version's encoder.
 *
 * <h2>Versions</h2>
 *
 * <ul>
 *   <li>{@link #addVersion} queues a version with its encoder. A background thread (one per index) builds the queued
 *       versions in order: it re-embeds every raw item in chunks of {@code chunkSize} rows, then swaps the finished
 *       version in atomically (under the index's lock). Versions older than or equal to the newest known one are
 *       ignored (a replay after recovery).
 *   <li>The index keeps the {@code retained} newest complete versions (the serving one and the ones before it), so a
 *       query can be answered in a version that every shard holds while some shard is still building the next one.
 *   <li>{@link #upsert} and {@link #delete} apply at once to every complete version and to the version being built
 *       (its encoder embeds the new row on the caller's thread). A chunk that the builder embedded from a raw vector
 *       that has since been replaced or deleted is not committed for that item, so no version ever holds an
 *       embedding of a stale vector.
 * </ul>
 *
 * <h2>Search</h2>
 *
 * <p>A query is answered in the newest complete version, and in each older retained version for a grace period after
 * the version that replaced it was swapped in ({@link #previousVersionGrace}): long enough for the other shards,
 * which started the same build at about the same time, to finish it too; after that the older version costs a scan
 * per query for nothing.
 *
 * <p>Exact ({@link ExactTopK}): the score of an item is the cosine similarity of its embedding and the query's
 * embedding, both made by the same version. Ranking: score descending, then id ascending on equal scores.
 *
 * <p>Thread safety: all public methods may be called from any thread; mutations and searches hold the index's lock
 * (the builder holds it only to commit a chunk and to swap). Parts: {@link IndexVersions} (the versions' life cycle),
 * {@link IndexVersion} (one version's embeddings), {@link CatalogItems} (the raw items), {@link IndexBuilder} (the
 * background rebuild).
 */
public final class VersionedIndex implements AutoCloseable {
  /** An embedding function of one model version ({@code rows -> embeddings}); closed when the version is dropped. */
  public interface Encoder extends AutoCloseable {
    /** One embedding per row. Called from the builder thread and the caller's thread, possibly concurrently. */
    float[][] embed(float[][] rows);

    @Override
    default void close() {}
  }

  /** Told on the builder thread when a version is complete and serving. */
  public interface RefreshListener {
    /**
     * @param millis from {@link #addVersion} of the version to its swap
     * @param buildMillis from the start of its build to its swap (less the time it waited behind older versions)
     * @param buildCpuMillis CPU time of the builder thread in that build (the rest of buildMillis it waited for a CPU)
     */
    void refreshed(long version, long millis, long buildMillis, long buildCpuMillis);
  }


  private final int chunkSize;
  private final CatalogItems items = new CatalogItems();
  private final IndexVersions versions;
  private boolean closed;
  private RuntimeException buildFailure;
  private final IndexBuilder builder;

  /**
   * @param chunkSize rows per embedding call of the builder, and most upserts embedded in one batch (at least 1)
   * @param retained complete versions kept (at least 1; 2 keeps the previous version while shards catch up)
   * @param onRefresh told on the builder thread when a version is complete (may be null)
   * @param priority the builder thread's scheduling priority ({@link BackgroundPriority#LOW}: the task threads that
   *     answer queries, and the trainer, come first)
   */
  public VersionedIndex(int chunkSize, int retained, RefreshListener onRefresh, BackgroundPriority priority) {
    if (chunkSize < 1) {
      throw new IllegalArgumentException("chunkSize must be >= 1, got " + chunkSize);
    }
    this.versions = new IndexVersions(retained);
    this.chunkSize = chunkSize;
    this.builder = new IndexBuilder(this, chunkSize, priority, onRefresh);
  }

  /**
   * Inserts or replaces an item. Its embeddings in every complete version and the version being built are made
   * before the next search (or once {@code chunkSize} upserts are pending), in one batch per version.
   *
   * @throws IllegalArgumentException on a null raw vector
   */
  public synchronized void upsert(long id, float[] raw, Long label) {
    if (raw == null) {
      throw new IllegalArgumentException("raw vector of item " + id + " is null");
    }
    items.upsert(id, raw, label);
    if (items.pendingCount() >= chunkSize) {
      embedPending();
    }
  }

  /** Embeds the pending upserts into every complete version and the one being built. */
  private void embedPending() {
    List<CatalogItems.Item> p = items.takePending();
    if (p.isEmpty()) {
      return;
    }
    float[][] x = new float[p.size()][];
    for (int i = 0; i < x.length; i++) {
      x[i] = p.get(i).raw();
    }
    for (IndexVersion v : versions.live()) {
      float[][] e = v.encoder.embed(x);
      for (int i = 0; i < x.length; i++) {
        v.put(p.get(i).id(), e[i]);
      }
    }
  }

  /** Removes an item from the raw items and every version; returns whether it was present. */
  public synchronized boolean delete(long id) {
    boolean had = items.delete(id);
    for (IndexVersion v : versions.live()) {
      v.remove(id);
    }
    return had;
  }

  /**
   * Queues a model version; the background thread builds it after the ones queued before it. A version not newer
   * than the newest known one is ignored and its encoder closed.
   *
   * @return whether the version was queued
   */
  public synchronized boolean addVersion(long version, Encoder encoder) {
    if (closed) {
      throw new IllegalStateException("the index is closed");
    }
    if (!versions.add(version, encoder)) {
      return false;
    }
    if (versions.building() == null) {
      startNext();
    }
    return true;
  }

  private void startNext() {
    IndexVersion next = versions.startNext();
    if (next != null) {
      builder.submit(next);
    }
  }

  /** The raw items for {@code v}'s build, or null when it is no longer the version being built. */
  synchronized List<CatalogItems.Item> snapshotFor(IndexVersion v) {
    return versions.building() == v ? items.snapshot() : null;
  }

  /**
   * Commits a chunk the builder embedded; an item replaced or deleted since the snapshot, or already embedded in
   * {@code v} by an upsert, is skipped. Returns false when {@code v} is no longer being built (closed).
   */
  synchronized boolean commit(IndexVersion v, List<CatalogItems.Item> chunk, float[][] e) {
    if (versions.building() != v) {
      return false;
    }
    for (int i = 0; i < e.length; i++) {
      CatalogItems.Item it = chunk.get(i);
      CatalogItems.Item now = items.get(it.id());
      if (now != null && now.raw() == it.raw() && !v.contains(it.id())) {
        v.put(it.id(), e[i]);
      }
    }
    return true;
  }

  /** Swaps the built {@code v} in and starts the next queued build; false when {@code v} is no longer being built. */
  synchronized boolean swap(IndexVersion v, long buildStartNanos) {
    if (versions.building() != v) {
      return false;
    }
    v.completedAtNanos = System.nanoTime();
    v.buildNanos = v.completedAtNanos - buildStartNanos;
    versions.complete(v);
    startNext();
    notifyAll();
    return true;
  }

  synchronized void failed(RuntimeException e) {
    buildFailure = e;
    notifyAll();
  }

  /**
   * The top-{@code k} of a raw query in every complete version, newest first: the query is embedded by each version's
   * own encoder and ranked against that version's embeddings only.
   *
   * @throws IllegalArgumentException when k < 1
   * @throws IllegalStateException when a background build failed
   */
  public synchronized List<VersionHits> search(float[] rawQuery, int k) {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
    checkBuilder();
    embedPending();
    List<VersionHits> out = new ArrayList<>(versions.completeCount());
    for (IndexVersion v : versions.answering(System.nanoTime())) {
      out.add(v.search(v.encoder.embed(new float[][] {rawQuery})[0], k));
    }
    return out;
  }

  /**
   * How long after a version's swap queries are still answered in the version it replaced (and so on down the
   * retained ones): {@code -1}, for as long as it is retained (the default); {@code 0}, automatic: the replacing
   * version's own build time, at least 1 s; otherwise that many ms.
   *
   * @throws IllegalArgumentException below -1
   */
  public synchronized void previousVersionGrace(long millis) {
    versions.previousVersionGrace(millis);
  }

  private void checkBuilder() {
    if (buildFailure != null) {
      throw new IllegalStateException("building a version failed: " + buildFailure.getMessage(), buildFailure);
    }
  }

  /** Waits until some version is complete; returns whether one is. */
  public boolean awaitComplete(long timeoutMillis) throws InterruptedException {
    return awaitVersion(Long.MIN_VALUE, timeoutMillis);
  }

  /** Waits until the given version (or a newer one) is complete; returns whether it is. */
  public synchronized boolean awaitVersion(long version, long timeoutMillis) throws InterruptedException {
    long end = System.currentTimeMillis() + timeoutMillis;
    while ((versions.completeCount() == 0 || versions.serving() < version) && buildFailure == null && !closed) {
      long left = end - System.currentTimeMillis();
      if (left <= 0) {
        return false;
      }
      wait(left);
    }
    checkBuilder();
    return versions.completeCount() > 0 && versions.serving() >= version;
  }

  /** The newest complete version, or -1. */
  public synchronized long servingVersion() {
    return versions.serving();
  }

  /** The complete versions, newest first. */
  public synchronized long[] completeVersions() {
    return versions.completeVersions();
  }

  /** The version being built, or -1. */
  public synchronized long buildingVersion() {
    return versions.buildingVersion();
  }

  /** Whether a version is being built or queued. */
  public synchronized boolean busy() {
    return versions.building() != null;
  }

  /** Raw items held. */
  public synchronized int size() {
    return items.size();
  }

  /** Items embedded in a version (for checks), or -1 when the version is not held. */
  public synchronized int embeddedIn(long version) {
    embedPending();
    return versions.embeddedIn(version);
  }

  /** Stops the builder and closes every encoder. */
  @Override
  public void close() {
    List<IndexVersion> toClose;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      toClose = versions.clear();
      notifyAll();
    }
    builder.close();
    toClose.forEach(v -> v.encoder.close());
  }
}
