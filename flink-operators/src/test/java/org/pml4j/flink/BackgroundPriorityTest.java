package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The evaluator's background priority: real threads, read back from the kernel's {@code /proc}. */
class BackgroundPriorityTest {
  /** nice value and policy of the calling thread, as the kernel reports them. */
  private static int[] mine() {
    long tid = BackgroundPriority.currentTid().orElseThrow();
    return new int[] {BackgroundPriority.niceOf(tid).orElseThrow(), BackgroundPriority.policyOf(tid).orElseThrow()};
  }

  @Test
  void eachLevelGivesItsThreadsTheirNiceAndPolicyAndLeavesOtherThreadsAlone() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/thread-self")), "Linux only");
    int[] caller = mine();
    assertEquals(0, caller[1], "the test thread runs under the normal policy");
    ExecutorService idle = Executors.newSingleThreadExecutor(BackgroundPriority.IDLE.daemonThreads("pml4j-test-idle"));
    ExecutorService low = Executors.newSingleThreadExecutor(BackgroundPriority.LOW.daemonThreads("pml4j-test-low"));
    ExecutorService normal = Executors.newSingleThreadExecutor(
        BackgroundPriority.NORMAL.daemonThreads("pml4j-test-normal"));
    try {
      Object[] seen = idle.submit(() -> new Object[] {Thread.currentThread().isDaemon(), mine(),
          BackgroundPriority.currentTid().orElseThrow(), Thread.currentThread().getName()}).get(30, TimeUnit.SECONDS);
      assertEquals(true, seen[0]);
      int[] idleSeen = (int[]) seen[1];
      assertEquals(19, idleSeen[0]);
      assertEquals(BackgroundPriority.SCHED_IDLE, idleSeen[1]);
      assertTrue((long) seen[2] != BackgroundPriority.currentTid().orElseThrow(), "a thread of its own");
      assertEquals("pml4j-test-idle", seen[3]);
      // the priority stays for the life of the thread (every later task of the executor runs at it)
      int[] again = idle.submit(BackgroundPriorityTest::mine).get(30, TimeUnit.SECONDS);
      assertEquals(19, again[0]);
      assertEquals(BackgroundPriority.SCHED_IDLE, again[1]);

      int[] lowSeen = low.submit(BackgroundPriorityTest::mine).get(30, TimeUnit.SECONDS);
      assertEquals(19, lowSeen[0]);
      assertEquals(0, lowSeen[1], "LOW keeps the normal policy");
      int[] normalSeen = normal.submit(BackgroundPriorityTest::mine).get(30, TimeUnit.SECONDS);
      assertEquals(caller[0], normalSeen[0]);
      assertEquals(0, normalSeen[1]);
      // only those threads: the caller is unchanged
      int[] after = mine();
      assertEquals(caller[0], after[0]);
      assertEquals(caller[1], after[1]);
    } finally {
      idle.shutdownNow();
      low.shutdownNow();
      normal.shutdownNow();
    }
  }

  @Test
  void normalChangesNothing() {
    assumeTrue(Files.exists(Path.of("/proc/thread-self")), "Linux only");
    int[] before = mine();
    assertFalse(BackgroundPriority.NORMAL.applyToCurrentThread());
    int[] after = mine();
    assertEquals(before[0], after[0]);
    assertEquals(before[1], after[1]);
  }

  @Test
  void statFieldsAreReadFromTheKernel() {
    assumeTrue(Files.exists(Path.of("/proc/thread-self")), "Linux only");
    // an unknown thread id has no stat file
    assertEquals(OptionalInt.empty(), BackgroundPriority.niceOf(Long.MAX_VALUE));
    assertEquals(OptionalInt.empty(), BackgroundPriority.policyOf(Long.MAX_VALUE));
  }

  @Test
  void unknownLevelsAreRejectedWithTheKeyName() {
    assertEquals(BackgroundPriority.IDLE, BackgroundPriority.parse(" Idle "));
    assertEquals(BackgroundPriority.LOW, BackgroundPriority.parse("low"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BackgroundPriority.parse("lowest"));
    assertTrue(e.getMessage().contains("evaluator_priority") && e.getMessage().contains("lowest")
        && e.getMessage().contains("idle, low, normal"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> BackgroundPriority.parse(null));
    assertThrows(NullPointerException.class, () -> new EvalPolicy(EvalPolicy.Mode.LATEST, null, 0.5));
    IllegalArgumentException cfg = assertThrows(IllegalArgumentException.class,
        () -> StreamJobConfig.fromArgs("--evaluator-priority", "high"));
    assertTrue(cfg.getMessage().contains("evaluator_priority"), cfg.getMessage());
    assertEquals("idle", StreamJobConfig.fromArgs().evaluatorPriority);
    assertEquals("normal", StreamJobConfig.fromArgs("--evaluator_priority", "normal").evaluatorPriority);
  }
}
