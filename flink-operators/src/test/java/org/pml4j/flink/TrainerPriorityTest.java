package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * {@code retrieval.trainer_priority}: the real {@link TrainerOperator} (LibTorch) lowers its task thread's priority
 * in {@code open} and trains there as before; the kernel's {@code /proc} reports the thread's nice value. Each
 * harness runs on a thread of its own (a lowered priority cannot be raised again without privilege).
 */
class TrainerPriorityTest {
  /** Opens a trainer with {@code p} on a fresh thread, trains 64 records; returns {nice, versions emitted}. */
  private static long[] trainAt(BackgroundPriority p) throws Exception {
    TrainerOperator.Settings g = TrainerStateGolden.settings();
    TrainerOperator.Settings s = new TrainerOperator.Settings(g.batchSize(), g.publishEverySteps(),
        g.publishEveryMillis(), g.publishInitial(), g.trainFinalPartialBatch(), g.verifyExport(), p);
    ExecutorService t = Executors.newSingleThreadExecutor();
    try {
      return t.submit(() -> {
        try (var h = new OneInputStreamOperatorTestHarness<LabeledVector, ModelUpdate>(
            new TrainerOperator(TrainerFactory.DEFAULT, TrainerStateGolden.config(), s))) {
          h.initializeEmptyState();
          h.open();
          TrainerOperatorHarnessTest.feed(h, 0, TrainerStateGolden.RECORDS);
          long tid = BackgroundPriority.currentTid().orElseThrow();
          return new long[] {BackgroundPriority.niceOf(tid).orElseThrow(), h.extractOutputValues().size()};
        }
      }).get(300, TimeUnit.SECONDS);
    } finally {
      t.shutdownNow();
    }
  }

  @Test
  void lowPriorityTrainerRunsAtNice19AndTrainsAsBefore() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/thread-self")), "Linux only");
    long callerNice = BackgroundPriority.niceOf(BackgroundPriority.currentTid().orElseThrow()).orElseThrow();
    long[] low = trainAt(BackgroundPriority.LOW);
    assertEquals(BackgroundPriority.LOWEST_NICE, low[0]);
    assertEquals(5, low[1], "64 records: versions 0..4, as at normal priority");
    long[] normal = trainAt(BackgroundPriority.NORMAL);
    assertEquals(callerNice, normal[0], "NORMAL leaves the thread's priority alone");
    assertEquals(5, normal[1]);
  }

  @Test
  void badTrainerPriorityIsRejectedByName() {
    RetrievalStage.Config c = new RetrievalStage.Config();
    assertEquals(BackgroundPriority.LOW, c.trainerPriority(), "low while retrieval is on, by default");
    c.trainerPriority = "urgent";
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        c::trainerPriority);
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("retrieval.trainer_priority"), e.getMessage());
  }
}
