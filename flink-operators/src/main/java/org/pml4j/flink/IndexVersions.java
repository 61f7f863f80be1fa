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
  private long graceMillis = -1;
  /** The least automatic grace period (0 in {@link #previousVersionGrace}). */
  static final long MIN_GRACE_NANOS = 1_000_000_000L;

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

  /** See {@link VersionedIndex#previousVersionGrace}. */
  void previousVersionGrace(long millis) {
    if (millis < -1) {
      throw new IllegalArgumentException("previous version grace must be >= -1 ms, got " + millis);
    }
    graceMillis = millis;
  }

  /**
   * The complete versions a query is answered in at {@code nowNanos}, newest first: the newest, and each older one
   * while the version after it was swapped in less than the grace period ago.
   */
  List<IndexVersion> answering(long nowNanos) {
    List<IndexVersion> out = new ArrayList<>(complete.size());
    for (IndexVersion v : complete) {
      if (!out.isEmpty() && graceMillis >= 0) {
        IndexVersion newer = out.get(out.size() - 1);
        long grace = graceMillis > 0 ? graceMillis * 1_000_000 : Math.max(MIN_GRACE_NANOS, newer.buildNanos);
        if (nowNanos - newer.completedAtNanos > grace) {
          break;
        }
      }
      out.add(v);
    }
    return out;
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
