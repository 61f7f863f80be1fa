package org.pml4j.flink;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The storage of one model version in a {@link VersionedIndex}: the version's encoder and every item's embedding made
 * by it, L2-normalized, in a dense column-major matrix ({@code columns[j][slot]}, one array per embedding dimension,
 * the layout {@link ExactTopK}'s scan vectorizes) with one slot per item (a removed item's slot is filled by the last
 * one, so the matrix stays dense). Not thread-safe: the owning index's lock guards it.
 */
final class IndexVersion {
  final long version;
  final VersionedIndex.Encoder encoder;
  /** When the version was queued in the index (for its refresh time). */
  final long queuedAtNanos;
  /** When it was swapped in, and how long its build took (set by the index at the swap). */
  long completedAtNanos;
  long buildNanos;
  private final Map<Long, Integer> slot = new HashMap<>();
  private long[] ids = new long[16];
  private float[][] columns;
  private float[] unit;
  private int dim = -1;
  private int size;

  IndexVersion(long version, VersionedIndex.Encoder encoder) {
    this.version = version;
    this.encoder = encoder;
    this.queuedAtNanos = System.nanoTime();
  }

  /** Stores (or replaces) the embedding of an item, normalized to unit length (a zero vector stays zero). */
  void put(long id, float[] e) {
    if (dim < 0) {
      dim = e.length;
      columns = new float[dim][ids.length];
      unit = new float[dim];
    } else if (e.length != dim) {
      throw new IllegalStateException("version " + version + " embedded a row to " + e.length
          + " values, earlier rows to " + dim);
    }
    Integer s = slot.get(id);
    int at;
    if (s == null) {
      if (size == ids.length) {
        ids = Arrays.copyOf(ids, size * 2);
        for (int j = 0; j < dim; j++) {
          columns[j] = Arrays.copyOf(columns[j], size * 2);
        }
      }
      at = size++;
      ids[at] = id;
      slot.put(id, at);
    } else {
      at = s;
    }
    ExactTopK.normalizeInto(e, unit, 0);
    for (int j = 0; j < dim; j++) {
      columns[j][at] = unit[j];
    }
  }

  /** Removes an item's embedding (the last slot moves into its slot). */
  void remove(long id) {
    Integer s = slot.remove(id);
    if (s == null) {
      return;
    }
    int last = --size;
    if (s != last) {
      ids[s] = ids[last];
      for (int j = 0; j < dim; j++) {
        columns[j][s] = columns[j][last];
      }
      slot.put(ids[s], s);
    }
  }

  boolean contains(long id) {
    return slot.containsKey(id);
  }

  /** Items embedded. */
  int size() {
    return size;
  }

  /** The exact top-k of a query embedding (made by this version's encoder) over this version's items. */
  VersionHits search(float[] queryEmbedding, int k) {
    if (size > 0 && queryEmbedding.length != dim) {
      throw new IllegalStateException("version " + version + " embedded the query to " + queryEmbedding.length
          + " values, its items to " + dim);
    }
    return ExactTopK.search(version, columns, ids, size, queryEmbedding, k);
  }
}
