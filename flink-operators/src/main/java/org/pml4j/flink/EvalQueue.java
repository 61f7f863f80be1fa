package org.pml4j.flink;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The model versions that the streaming evaluator has yet to score, kept by an {@link EvalPolicy}: the versions
 * waiting (in version order), the one in flight, the last one scored, the count of versions skipped, and the time
 * before which the CPU share lets no evaluation start. Plain Java, not thread-safe: {@link RetrievalEvaluator} drives
 * it from its task thread and checkpoints {@link #pending()}, {@link #lastEvaluated()} and {@link #skipped()}.
 *
 * <ul>
 *   <li>{@link EvalPolicy.Mode#LATEST}: a newer version replaces any version still waiting (counted as skipped), and
 *       a version older than one waiting is skipped; version 0 (the untrained model) is always kept. So version 0,
 *       the last version before the end of the input, and every version while the evaluator keeps up are scored.
 *   <li>{@link EvalPolicy.Mode#EVERY}: every version waits, in version order (a warning is logged past
 *       {@value #BACKLOG_WARNING} waiting).
 * </ul>
 * A version at or below the last one scored, in flight or already waiting is ignored (a replay after recovery).
 */
final class EvalQueue {
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(EvalQueue.class);
  /** Waiting versions (mode {@link EvalPolicy.Mode#EVERY}) past which a warning is logged. */
  static final int BACKLOG_WARNING = 10;

  private final EvalPolicy policy;
  private final ArrayDeque<ModelUpdate> waiting = new ArrayDeque<>();
  private ModelUpdate inFlight;
  private long lastEvaluated = -1;
  private long skipped;
  /** System.nanoTime() before which no evaluation starts (the pause after the last one), when paused. */
  private long notBeforeNanos;
  private boolean paused;

  EvalQueue(EvalPolicy policy) {
    this.policy = policy;
  }

  /** Restores from a checkpoint: the versions then pending wait again, in version order. */
  void restore(List<ModelUpdate> pending, long lastEvaluated, long skipped) {
    List<ModelUpdate> p = new ArrayList<>(pending);
    p.sort(Comparator.comparingLong(m -> m.version));
    waiting.clear();
    waiting.addAll(p);
    inFlight = null;
    this.lastEvaluated = lastEvaluated;
    this.skipped = skipped;
  }

  /**
   * A published version arrives.
   *
   * @return whether it now waits for an evaluation
   */
  boolean offer(ModelUpdate m) {
    if (m.version <= lastEvaluated || (inFlight != null && inFlight.version == m.version)
        || waiting.stream().anyMatch(p -> p.version == m.version)) {
      return false;
    }
    if (policy.mode() == EvalPolicy.Mode.LATEST) {
      if (m.version != 0 && waiting.stream().anyMatch(p -> p.version > m.version)) {
        skipped++; // an older version than one already waiting
        return false;
      }
      // Keep version 0 (the untrained baseline); a newer version replaces any other waiting one.
      waiting.removeIf(p -> {
        boolean drop = p.version != 0 && p.version < m.version;
        if (drop) {
          skipped++;
        }
        return drop;
      });
    }
    waiting.add(m);
    if (policy.mode() == EvalPolicy.Mode.EVERY && waiting.size() > BACKLOG_WARNING) {
      LOGGER.warn("pml4j evaluator: {} versions wait for an evaluation (evaluation is slower than publishing; "
          + "evaluate=latest keeps only the newest)", waiting.size());
    }
    return true;
  }

  /** Whether a version waits and none is in flight. */
  boolean canStart() {
    return inFlight == null && !waiting.isEmpty();
  }

  /**
   * Nanoseconds until the CPU share lets the next evaluation start (0: now).
   *
   * @param draining at the end of the input: no pause
   */
  long pauseLeftNanos(long nowNanos, boolean draining) {
    return draining || !paused ? 0 : Math.max(0, notBeforeNanos - nowNanos);
  }

  /**
   * Puts the oldest waiting version in flight.
   *
   * @throws IllegalStateException unless {@link #canStart()}
   */
  ModelUpdate start() {
    if (!canStart()) {
      throw new IllegalStateException("no version to start: " + (inFlight != null ? "v" + inFlight.version
          + " is in flight" : "none waits"));
    }
    inFlight = waiting.poll();
    return inFlight;
  }

  /** Takes the oldest waiting version off unscored (there is nothing to score it on), as if it had been scored. */
  ModelUpdate drop() {
    ModelUpdate m = waiting.poll();
    if (m != null) {
      lastEvaluated = m.version;
    }
    return m;
  }

  /**
   * The evaluation of {@code m} has ended after {@code cpuNanos} of CPU: the next starts no sooner than the policy's
   * pause after {@code nowNanos}.
   *
   * @return false when {@code m} is not in flight (its result was taken already)
   */
  boolean done(ModelUpdate m, long cpuNanos, long nowNanos) {
    if (inFlight != m) {
      return false;
    }
    inFlight = null;
    lastEvaluated = m.version;
    notBeforeNanos = nowNanos + policy.pauseNanos(cpuNanos);
    paused = true;
    return true;
  }

  /** The version in flight, or null. */
  ModelUpdate inFlight() {
    return inFlight;
  }

  /** The version in flight (if any) and the waiting ones: what a checkpoint keeps. */
  List<ModelUpdate> pending() {
    List<ModelUpdate> p = new ArrayList<>();
    if (inFlight != null) {
      p.add(inFlight);
    }
    p.addAll(waiting);
    return p;
  }

  int waiting() {
    return waiting.size();
  }

  /** The last version scored (or dropped), -1 before the first. */
  long lastEvaluated() {
    return lastEvaluated;
  }

  /** Versions skipped under {@link EvalPolicy.Mode#LATEST}. */
  long skipped() {
    return skipped;
  }
}
