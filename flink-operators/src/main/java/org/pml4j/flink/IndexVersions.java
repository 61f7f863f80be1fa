package org.pml4j.flink;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The versions of a {@link VersionedIndex} and their life cycle: queued (in order of version) → building (at most
 * one) → complete (the {@code retained} newest, newest first; an older one is dropped and its encoder closed). Not
 * thread-safe: the index's lock guards it.
 */
final class IndexVersions {
  private final int retained;
  /** Complete versions, newest first. */
  private final ArrayDeque<IndexVersion> complete = new ArrayDeque<>();
  private final ArrayDeque<IndexVersion> queued = new ArrayDeque<>();
  private IndexVersion building;
  private long newestKnown = -1;

  IndexVersions(int retained) {
    if (retained < 1) {
      throw new IllegalArgumentException("retained must be >= 1, got " + retained);
    }
    this.retained = retained;
  }

  /** Queues a version newer than every known one; closes the encoder of an older one (a replay) and returns false. */
  boolean add(long version, VersionedIndex.Encoder encoder) {
    if (version <= newestKnown) {
      encoder.close();
      return false;
    }
    newestKnown = version;
    queued.addLast(new IndexVersion(version, encoder));
    return true;
  }

  /** Makes the next queued version the one being built (null when none is queued) and returns it. */
  IndexVersion startNext() {
    building = queued.pollFirst();
    return building;
  }

  IndexVersion building() {
    return building;
  }

  /** The building version becomes the newest complete one; the ones past {@code retained} are dropped and closed. */
  void complete(IndexVersion v) {
    if (building != v) {
      throw new IllegalStateException("version " + v.version + " is not the one being built");
    }
    building = null;
    complete.addFirst(v);
    while (complete.size() > retained) {
      complete.pollLast().encoder.close();
    }
  }

  /** The complete versions, newest first. */
  Iterable<IndexVersion> complete() {
    return complete;
  }

  /** The complete versions and the one being built: those an upsert or a delete goes to. */
  List<IndexVersion> live() {
    List<IndexVersion> l = new ArrayList<>(complete);
    if (building != null) {
      l.add(building);
    }
    return l;
  }

  int completeCount() {
    return complete.size();
  }

  long serving() {
    return complete.isEmpty() ? -1 : complete.peekFirst().version;
  }

  long[] completeVersions() {
    return complete.stream().mapToLong(v -> v.version).toArray();
  }

  long buildingVersion() {
    return building == null ? -1 : building.version;
  }

  long newestKnown() {
    return newestKnown;
  }

  /** Items embedded in a version, or -1 when the version is not complete or being built. */
  int embeddedIn(long version) {
    for (IndexVersion v : live()) {
      if (v.version == version) {
        return v.size();
      }
    }
    return -1;
  }

  /** Forgets every version and returns them (their encoders are the caller's to close, after the builder stopped). */
  List<IndexVersion> clear() {
    List<IndexVersion> all = live();
    all.addAll(queued);
    complete.clear();
    queued.clear();
    building = null;
    return all;
  }
}
