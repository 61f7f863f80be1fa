package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The streaming evaluator's scheduling policy without Flink: which versions an {@link EvalQueue} keeps under each
 * {@link EvalPolicy.Mode}, the CPU share's pause, and the parsing of the job keys.
 */
class EvalPolicyTest {
  private static ModelUpdate v(long version) {
    return new ModelUpdate(version, version * 10, new byte[] {1}, Map.of(), 0);
  }

  private static EvalQueue queue(EvalPolicy.Mode mode, double share) {
    return new EvalQueue(new EvalPolicy(mode, BackgroundPriority.NORMAL, share));
  }

  /** Starts and finishes versions until none waits; returns the versions scored, in order. */
  private static List<Long> drain(EvalQueue q) {
    List<Long> out = new ArrayList<>();
    while (q.canStart()) {
      ModelUpdate m = q.start();
      assertTrue(q.done(m, 0, 0));
      out.add(m.version);
    }
    return out;
  }

  @Test
  void latestKeepsTheUntrainedAndTheNewestVersionAndCountsTheSkipped() {
    EvalQueue q = queue(EvalPolicy.Mode.LATEST, 1);
    for (long i = 0; i <= 2; i++) {
      assertTrue(q.offer(v(i)));
    }
    ModelUpdate first = q.start();
    assertEquals(0, first.version, "version 0 is kept and scored first");
    assertTrue(q.offer(v(3)), "v3 replaces the waiting v2 while v0 is in flight");
    assertFalse(q.offer(v(2)), "an older version than one waiting is skipped");
    assertEquals(1, q.waiting());
    assertEquals(List.of(first, v3(q)), q.pending(), "in flight first, then the waiting version");
    assertTrue(q.done(first, 0, 0));
    assertEquals(List.of(3L), drain(q));
    // v1 replaced by v2, v2 by v3, the late v2 skipped
    assertEquals(3, q.skipped());
    assertEquals(3, q.lastEvaluated());
    assertFalse(q.offer(v(3)), "a version already scored is a replay");
    assertFalse(q.offer(v(1)));
  }

  private static ModelUpdate v3(EvalQueue q) {
    return q.pending().get(1);
  }

  @Test
  void everyKeepsEveryVersionInOrderAndIgnoresReplays() {
    EvalQueue q = queue(EvalPolicy.Mode.EVERY, 1);
    for (long i = 0; i < 15; i++) {
      assertTrue(q.offer(v(i)));
    }
    assertFalse(q.offer(v(7)), "already waiting");
    List<Long> expected = new ArrayList<>();
    for (long i = 0; i < 15; i++) {
      expected.add(i);
    }
    assertEquals(expected, drain(q));
    assertEquals(0, q.skipped());
  }

  @Test
  void theCpuSharePausesAfterAnEvaluationExceptWhenDraining() {
    EvalQueue half = queue(EvalPolicy.Mode.EVERY, 0.5);
    half.offer(v(0));
    half.offer(v(1));
    assertEquals(0, half.pauseLeftNanos(123, false), "no pause before the first evaluation");
    ModelUpdate m = half.start();
    assertTrue(half.done(m, 2_000_000, 10_000_000)); // 2 ms of CPU, done at t = 10 ms
    assertEquals(2_000_000, half.pauseLeftNanos(10_000_000, false), "share 0.5: pause as long as the CPU time");
    assertEquals(500_000, half.pauseLeftNanos(11_500_000, false));
    assertEquals(0, half.pauseLeftNanos(12_000_000, false));
    assertEquals(0, half.pauseLeftNanos(10_000_000, true), "at the end of the input: no pause");

    EvalQueue tenth = queue(EvalPolicy.Mode.EVERY, 0.1);
    tenth.offer(v(0));
    tenth.done(tenth.start(), 1_000_000, 0);
    assertEquals(9_000_000, tenth.pauseLeftNanos(0, false), "share 0.1: 9 times the CPU time");
    EvalQueue whole = queue(EvalPolicy.Mode.EVERY, 1);
    whole.offer(v(0));
    whole.done(whole.start(), 1_000_000, 0);
    assertEquals(0, whole.pauseLeftNanos(0, false), "share 1: back to back");
  }

  @Test
  void inFlightAndDroppedVersions() {
    EvalQueue q = queue(EvalPolicy.Mode.EVERY, 1);
    assertThrows(IllegalStateException.class, q::start, "nothing waits");
    q.offer(v(0));
    q.offer(v(1));
    ModelUpdate m = q.start();
    assertFalse(q.canStart(), "one evaluation at a time");
    assertThrows(IllegalStateException.class, q::start);
    assertFalse(q.offer(v(0)), "the version in flight is not queued again");
    assertFalse(q.done(v(1), 0, 0), "only the version in flight can end");
    assertTrue(q.done(m, 0, 0));
    assertFalse(q.done(m, 0, 0), "a result is taken once");
    assertEquals(1, q.drop().version, "dropped unscored (no held-out rows) counts as done");
    assertEquals(1, q.lastEvaluated());
    assertNull(q.drop());
  }

  @Test
  void aRestoredQueueWaitsForItsPendingVersionsInVersionOrder() {
    EvalQueue q = queue(EvalPolicy.Mode.EVERY, 1);
    q.restore(List.of(v(5), v(3), v(4)), 2, 7);
    assertEquals(2, q.lastEvaluated());
    assertEquals(7, q.skipped());
    assertNull(q.inFlight());
    assertFalse(q.offer(v(2)), "scored before the checkpoint");
    assertEquals(List.of(3L, 4L, 5L), drain(q));
  }

  @Test
  void theJobKeysParseIntoAPolicyAndBadValuesNameTheirKey() {
    EvalPolicy p = EvalPolicy.of(" Every ", "low", 0.25);
    assertEquals(new EvalPolicy(EvalPolicy.Mode.EVERY, BackgroundPriority.LOW, 0.25), p);
    assertEquals(3_000, p.pauseNanos(1_000));
    assertSame(EvalPolicy.Mode.NONE, EvalPolicy.Mode.parse("NONE"));
    assertEquals(new EvalPolicy(EvalPolicy.Mode.LATEST, BackgroundPriority.IDLE, 0.5), EvalPolicy.DEFAULT);
    assertEquals(EvalPolicy.DEFAULT, EvalPolicy.of(EvalPolicy.Mode.LATEST));
    String[][] bad = {{"sometimes", "idle", "0.5", "evaluate"}, {"latest", "high", "0.5", "evaluator_priority"},
        {"latest", "idle", "0", "evaluator_cpu_share"}, {"latest", "idle", "1.01", "evaluator_cpu_share"}};
    for (String[] b : bad) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> EvalPolicy.of(b[0], b[1], Double.parseDouble(b[2])));
      assertTrue(e.getMessage().startsWith(b[3] + " must be"), e.getMessage());
    }
  }
}
