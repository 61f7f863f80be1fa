package org.pml4j.flink;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The raw items of a {@link VersionedIndex} by id, and the ids upserted since the index last embedded them into its
 * versions (so that a run of upserts is embedded in batches, not one ONNX Runtime call per row and version). Not
 * thread-safe: the index's lock guards it.
 */
final class CatalogItems {
  /** A raw item: the vector the encoders take (never mutated), and the optional label. */
  record Item(long id, float[] raw, Long label) {}

  private final LinkedHashMap<Long, Item> items = new LinkedHashMap<>();
  private final LinkedHashSet<Long> pending = new LinkedHashSet<>();

  /** Inserts or replaces an item (a copy of {@code raw}); it is pending until {@link #takePending}. */
  void upsert(long id, float[] raw, Long label) {
    items.put(id, new Item(id, raw.clone(), label));
    pending.add(id);
  }

  /** Removes an item; returns whether it was present. */
  boolean delete(long id) {
    pending.remove(id);
    return items.remove(id) != null;
  }

  Item get(long id) {
    return items.get(id);
  }

  int size() {
    return items.size();
  }

  int pendingCount() {
    return pending.size();
  }

  /** Every item, in insertion order (a copy: a build's snapshot). */
  List<Item> snapshot() {
    return new ArrayList<>(items.values());
  }

  /** The pending items, in upsert order, and none pending afterwards. */
  List<Item> takePending() {
    List<Item> out = new ArrayList<>(pending.size());
    for (long id : pending) {
      out.add(items.get(id));
    }
    pending.clear();
    return out;
  }
}
