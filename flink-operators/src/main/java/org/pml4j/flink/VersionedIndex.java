package org.pml4j.flink;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

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
 * <p>Exact: the score of an item is the cosine similarity of its embedding and the query's embedding, both made by
 * the same version (embeddings are L2-normalized when stored; the score is their dot product, computed in a fixed
 * order over the rows of a dense matrix, so it is reproducible). Ranking: score descending, then id ascending on
 * equal scores.
 *
 * <p>Thread safety: all public methods may be called from any thread; mutations and searches hold the index's lock
 * (the builder holds it only to commit a chunk and to swap).
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
    /** @param millis from {@link #addVersion} of the version to its swap */
    void refreshed(long version, long millis);
  }

  /** The top-k of a query in one version: ids and scores, best first. */
  public record VersionHits(long version, long[] ids, float[] scores) {
    @Override
    public String toString() {
      return "VersionHits{v" + version + ", ids=" + Arrays.toString(ids) + ", scores=" + Arrays.toString(scores) + "}";
    }
  }

  /** A raw item: the vector the encoders take, and the optional label. */
  public record Item(long id, float[] raw, Long label) {}

  /** The embeddings of one version: a dense row-major matrix with a slot per item. */
  static final class Version {
    final long version;
    final Encoder encoder;
    final long queuedAtNanos;
    final Map<Long, Integer> slot = new HashMap<>();
    long[] ids = new long[16];
    float[] rows;
    int dim = -1;
    int size;

    Version(long version, Encoder encoder) {
      this.version = version;
      this.encoder = encoder;
      this.queuedAtNanos = System.nanoTime();
    }

    void put(long id, float[] e) {
      if (dim < 0) {
        dim = e.length;
        rows = new float[16 * dim];
      } else if (e.length != dim) {
        throw new IllegalStateException("version " + version + " embedded a row to " + e.length
            + " values, earlier rows to " + dim);
      }
      Integer s = slot.get(id);
      int at;
      if (s == null) {
        if (size == ids.length) {
          ids = Arrays.copyOf(ids, size * 2);
          rows = Arrays.copyOf(rows, size * 2 * dim);
        }
        at = size++;
        ids[at] = id;
        slot.put(id, at);
      } else {
        at = s;
      }
      double n = 0;
      for (float x : e) {
        n += (double) x * x;
      }
      float inv = n > 0 ? (float) (1 / Math.sqrt(n)) : 0f;
      for (int j = 0; j < dim; j++) {
        rows[at * dim + j] = e[j] * inv;
      }
    }

    void remove(long id) {
      Integer s = slot.remove(id);
      if (s == null) {
        return;
      }
      int last = --size;
      if (s != last) {
        ids[s] = ids[last];
        System.arraycopy(rows, last * dim, rows, s * dim, dim);
        slot.put(ids[s], s);
      }
    }
  }

  private final int chunkSize;
  private final int retained;
  private final LinkedHashMap<Long, Item> items = new LinkedHashMap<>();
  /** Complete versions, newest first. */
  private final ArrayDeque<Version> complete = new ArrayDeque<>();
  private final ArrayDeque<Version> queued = new ArrayDeque<>();
  private Version building;
  private long newestKnown = -1;
  private boolean closed;
  private final ExecutorService builder;
  private final RefreshListener onRefresh;
  private long lastRefreshMillis = -1;

  /**
   * @param chunkSize rows per embedding call of the builder (at least 1)
   * @param retained complete versions kept (at least 1; 2 keeps the previous version while shards catch up)
   * @param onRefresh told on the builder thread when a version is complete (may be null)
   */
  public VersionedIndex(int chunkSize, int retained, RefreshListener onRefresh) {
    if (chunkSize < 1) {
      throw new IllegalArgumentException("chunkSize must be >= 1, got " + chunkSize);
    }
    if (retained < 1) {
      throw new IllegalArgumentException("retained must be >= 1, got " + retained);
    }
    this.chunkSize = chunkSize;
    this.retained = retained;
    this.onRefresh = onRefresh;
    this.builder = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "pml4j-retrieval-index-builder");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Inserts or replaces an item, and embeds it at once in every complete version and the version being built.
   *
   * @throws IllegalArgumentException on a null raw vector
   */
  public synchronized void upsert(long id, float[] raw, Long label) {
    if (raw == null) {
      throw new IllegalArgumentException("raw vector of item " + id + " is null");
    }
    float[] copy = raw.clone();
    items.put(id, new Item(id, copy, label));
    for (Version v : complete) {
      v.put(id, v.encoder.embed(new float[][] {copy})[0]);
    }
    if (building != null) {
      building.put(id, building.encoder.embed(new float[][] {copy})[0]);
    }
  }

  /** Removes an item from the raw items and every version; returns whether it was present. */
  public synchronized boolean delete(long id) {
    boolean had = items.remove(id) != null;
    for (Version v : complete) {
      v.remove(id);
    }
    if (building != null) {
      building.remove(id);
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
    if (version <= newestKnown) {
      encoder.close();
      return false;
    }
    newestKnown = version;
    queued.addLast(new Version(version, encoder));
    if (building == null) {
      startNext();
    }
    return true;
  }

  private void startNext() {
    Version next = queued.pollFirst();
    building = next;
    if (next != null) {
      builder.execute(() -> build(next));
    }
  }

  private void build(Version v) {
    try {
      List<Item> snapshot;
      synchronized (this) {
        if (building != v) {
          return;
        }
        snapshot = new ArrayList<>(items.values());
      }
      for (int from = 0; from < snapshot.size(); from += chunkSize) {
        int n = Math.min(chunkSize, snapshot.size() - from);
        float[][] x = new float[n][];
        for (int i = 0; i < n; i++) {
          x[i] = snapshot.get(from + i).raw();
        }
        float[][] e = v.encoder.embed(x);
        synchronized (this) {
          if (building != v) {
            return; // closed
          }
          for (int i = 0; i < n; i++) {
            Item it = snapshot.get(from + i);
            Item now = items.get(it.id());
            if (now != null && now.raw() == it.raw() && !v.slot.containsKey(it.id())) {
              v.put(it.id(), e[i]);
            }
          }
        }
      }
      long ms;
      synchronized (this) {
        if (building != v) {
          return;
        }
        complete.addFirst(v);
        while (complete.size() > retained) {
          complete.pollLast().encoder.close();
        }
        ms = (System.nanoTime() - v.queuedAtNanos) / 1_000_000;
        lastRefreshMillis = ms;
        startNext();
        notifyAll();
      }
      if (onRefresh != null) {
        onRefresh.refreshed(v.version, ms);
      }
    } catch (RuntimeException e) {
      synchronized (this) {
        buildFailure = e;
        notifyAll();
      }
    }
  }

  private RuntimeException buildFailure;

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
    List<VersionHits> out = new ArrayList<>(complete.size());
    for (Version v : complete) {
      out.add(searchIn(v, v.encoder.embed(new float[][] {rawQuery})[0], k));
    }
    return out;
  }

  private void checkBuilder() {
    if (buildFailure != null) {
      throw new IllegalStateException("building a version failed: " + buildFailure.getMessage(), buildFailure);
    }
  }

  /** Exact top-k by cosine score (descending), ties by id (ascending). */
  static VersionHits searchIn(Version v, float[] query, int k) {
    int d = v.dim;
    int n = v.size;
    int kk = Math.min(k, n);
    long[] topIds = new long[kk];
    float[] topScores = new float[kk];
    if (kk == 0) {
      return new VersionHits(v.version, topIds, topScores);
    }
    if (query.length != d) {
      throw new IllegalStateException("version " + v.version + " embedded the query to " + query.length
          + " values, its items to " + d);
    }
    double qn = 0;
    for (float x : query) {
      qn += (double) x * x;
    }
    float inv = qn > 0 ? (float) (1 / Math.sqrt(qn)) : 0f;
    float[] q = new float[d];
    for (int j = 0; j < d; j++) {
      q[j] = query[j] * inv;
    }
    // A sorted array of the best kk so far (insertion: k is small), worst at the end.
    int filled = 0;
    float[] rows = v.rows;
    long[] ids = v.ids;
    for (int i = 0; i < n; i++) {
      int off = i * d;
      float s = 0f;
      for (int j = 0; j < d; j++) {
        s += rows[off + j] * q[j];
      }
      long id = ids[i];
      if (filled == kk && !better(s, id, topScores[kk - 1], topIds[kk - 1])) {
        continue;
      }
      int p = filled == kk ? kk - 1 : filled++;
      while (p > 0 && better(s, id, topScores[p - 1], topIds[p - 1])) {
        topScores[p] = topScores[p - 1];
        topIds[p] = topIds[p - 1];
        p--;
      }
      topScores[p] = s;
      topIds[p] = id;
    }
    return new VersionHits(v.version, topIds, topScores);
  }

  /** The ranking order: higher score first, then lower id. */
  public static boolean better(float s, long id, float otherScore, long otherId) {
    int c = Float.compare(s, otherScore);
    return c > 0 || (c == 0 && id < otherId);
  }

  /**
   * Waits until some version is complete.
   *
   * @return whether one is
   */
  public synchronized boolean awaitComplete(long timeoutMillis) throws InterruptedException {
    long end = System.currentTimeMillis() + timeoutMillis;
    while (complete.isEmpty() && buildFailure == null && !closed) {
      long left = end - System.currentTimeMillis();
      if (left <= 0) {
        return false;
      }
      wait(left);
    }
    checkBuilder();
    return !complete.isEmpty();
  }

  /** Waits until the given version (or a newer one) is complete. */
  public synchronized boolean awaitVersion(long version, long timeoutMillis) throws InterruptedException {
    long end = System.currentTimeMillis() + timeoutMillis;
    while ((complete.isEmpty() || complete.peekFirst().version < version) && buildFailure == null && !closed) {
      long left = end - System.currentTimeMillis();
      if (left <= 0) {
        return false;
      }
      wait(left);
    }
    checkBuilder();
    return !complete.isEmpty() && complete.peekFirst().version >= version;
  }

  /** The newest complete version, or -1. */
  public synchronized long servingVersion() {
    return complete.isEmpty() ? -1 : complete.peekFirst().version;
  }

  /** The complete versions, newest first. */
  public synchronized long[] completeVersions() {
    return complete.stream().mapToLong(v -> v.version).toArray();
  }

  /** The version being built, or -1. */
  public synchronized long buildingVersion() {
    return building == null ? -1 : building.version;
  }

  /** Whether a version is being built or queued. */
  public synchronized boolean busy() {
    return building != null;
  }

  /** The newest version added (queued, building or complete), or -1. */
  public synchronized long newestKnown() {
    return newestKnown;
  }

  /** Raw items held. */
  public synchronized int size() {
    return items.size();
  }

  /** Items embedded in a version (for checks), or -1 when the version is not held. */
  public synchronized int embeddedIn(long version) {
    for (Version v : complete) {
      if (v.version == version) {
        return v.size;
      }
    }
    return building != null && building.version == version ? building.size : -1;
  }

  /** The milliseconds from queueing to swap of the last completed version, or -1. */
  public synchronized long lastRefreshMillis() {
    return lastRefreshMillis;
  }

  /** A copy of the raw items, in insertion order (for checkpoints). */
  public synchronized List<Item> items() {
    return new ArrayList<>(items.values());
  }

  /** Stops the builder and closes every encoder. */
  @Override
  public void close() {
    List<Version> toClose = new ArrayList<>();
    Version b;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      toClose.addAll(complete);
      toClose.addAll(queued);
      complete.clear();
      queued.clear();
      b = building;
      building = null;
      notifyAll();
    }
    builder.shutdownNow();
    try {
      builder.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (b != null) {
      b.encoder.close();
    }
    toClose.forEach(v -> v.encoder.close());
  }
}
