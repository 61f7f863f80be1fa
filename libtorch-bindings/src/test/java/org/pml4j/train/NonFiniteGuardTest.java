package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The trainer's non-finite guard: a batch whose encoder output, loss or gradient is not finite is skipped without
 * touching parameters, BatchNorm buffers, optimizer moments or the CrossBatchMemory, and the trainer goes on exactly
 * as if the batch had never come.
 */
class NonFiniteGuardTest {
  /** Linear + BatchNorm (buffers the forward updates in place) + L2Normalize; no Dropout, so no RNG is drawn. */
  static final String BN_ENCODER = """
      {"class": "Sequential", "params": {"layers": [
        {"class": "Linear", "params": {"in_features": 12, "out_features": 16}},
        {"class": "BatchNorm1d", "params": {"num_features": 16}},
        {"class": "ReLU"},
        {"class": "Linear", "params": {"in_features": 16, "out_features": 8}},
        {"class": "L2Normalize"}]}}""";

  /** A plain Linear encoder: huge finite inputs give huge finite embeddings. */
  static final String LINEAR_ENCODER = """
      {"class": "Sequential", "params": {"layers": [
        {"class": "Linear", "params": {"in_features": 12, "out_features": 8}}]}}""";

  /** Two Linear layers, no normalization: a row of 3e38 overflows to Inf in the second. */
  static final String WIDE_ENCODER = """
      {"class": "Sequential", "params": {"layers": [
        {"class": "Linear", "params": {"in_features": 12, "out_features": 64}},
        {"class": "Linear", "params": {"in_features": 64, "out_features": 8}}]}}""";

  static TrainerConfig config(String encoder, String loss, int memory) {
    return new TrainerConfig(Trainers.parse(encoder), Trainers.parse(loss), null,
        Trainers.parse("{\"class\": \"Adam\", \"params\": {\"lr\": 0.01}}"), memory, 42, 1);
  }

  /** Batch 3 of 16 rows with one row of 3e38 values (finite float32 values that overflow in the first Linear). */
  static float[][] overflowing() {
    float[][] x = TrainerTest.features(3, 16);
    java.util.Arrays.fill(x[5], 3e38f);
    return x;
  }

  static void assertSameState(List<byte[]> a, List<byte[]> b, String when) {
    assertEquals(a.size(), b.size());
    for (int k = 0; k < a.size(); k++) {
      assertArrayEquals(a.get(k), b.get(k), when + ": state part " + k + " differs");
    }
  }

  /**
   * Runs good batches 0..2, the bad batch, good batches 4..5 on one trainer and the good batches alone on another:
   * the bad step changes nothing (parameters, buffers, optimizer moments, queue, step count) and both trainers end
   * bit-identical.
   */
  static String checkSkipIsInvisible(TrainerConfig cfg, float[][] bad, long[] badLabels) {
    String reason;
    try (BaseTrainer guarded = Trainers.fromConfig(cfg); BaseTrainer control = Trainers.fromConfig(cfg)) {
      for (int i = 0; i < 3; i++) {
        assertFalse(guarded.trainStep(TrainerTest.features(i, 16), TrainerTest.labels(16)).wasSkipped());
        control.trainStep(TrainerTest.features(i, 16), TrainerTest.labels(16));
      }
      List<byte[]> before = TrainerTest.state(guarded);
      byte[] moments = guarded.optimizer().saveState();
      StepResult r = guarded.trainStep(bad, badLabels);
      assertTrue(r.wasSkipped(), "the bad batch is skipped");
      reason = r.skipped();
      assertEquals(3, r.step());
      assertEquals(3, guarded.steps());
      assertEquals(1, guarded.skippedNonfinite());
      assertSameState(before, TrainerTest.state(guarded), "after the skipped step");
      assertArrayEquals(moments, guarded.optimizer().saveState(), "optimizer moments after the skipped step");
      for (int i = 4; i < 6; i++) {
        StepResult g = guarded.trainStep(TrainerTest.features(i, 16), TrainerTest.labels(16));
        StepResult c = control.trainStep(TrainerTest.features(i, 16), TrainerTest.labels(16));
        assertNull(g.skipped());
        assertEquals(Double.doubleToRawLongBits(c.loss()), Double.doubleToRawLongBits(g.loss()));
        assertEquals(c.step(), g.step());
      }
      // Equal parameters after two Adam steps also mean equal moments (the archives of two optimizers cannot be
      // compared byte for byte: LibTorch keys their state by tensor address).
      assertSameState(TrainerTest.state(control), TrainerTest.state(guarded), "after two more good steps");
    }
    return reason;
  }

  @Test
  void overflowingEncoderOutputSkipsTheStepAndRestoresBatchNormAndTheQueue() {
    TrainerConfig cfg = config(BN_ENCODER, "{\"class\": \"ContrastiveLoss\"}", 40);
    String reason = checkSkipIsInvisible(cfg, overflowing(), TrainerTest.labels(16));
    assertTrue(reason.startsWith("non-finite encoder output in 16 of 16 rows"), reason); // BatchNorm mixes the rows
  }

  @Test
  void overflowingEncoderOutputWithoutBatchNormNamesTheRows() {
    TrainerConfig cfg = config(WIDE_ENCODER, "{\"class\": \"TripletMarginLoss\"}", 0);
    String reason = checkSkipIsInvisible(cfg, overflowing(), TrainerTest.labels(16));
    assertEquals("non-finite encoder output in 1 of 16 rows", reason);
  }

  @Test
  void nonFiniteLossAfterTheQueueEnqueuedSkipsTheStepAndRestoresTheQueue() {
    // Finite embeddings of ~1e20 whose squared distances overflow: the loss is not finite only after the
    // CrossBatchMemory has enqueued the batch.
    TrainerConfig cfg = config(LINEAR_ENCODER, """
        {"class": "ContrastiveLoss", "params": {"distance": {"class": "LpDistance",
         "params": {"normalize_embeddings": false}}}}""", 40);
    float[][] bad = TrainerTest.features(3, 16);
    for (float[] row : bad) {
      for (int j = 0; j < row.length; j++) {
        row[j] *= 1e20f;
      }
    }
    String reason = checkSkipIsInvisible(cfg, bad, TrainerTest.labels(16));
    assertTrue(reason.startsWith("non-finite loss") || reason.startsWith("non-finite gradient"), reason);
  }

  @Test
  void epochsCountSkippedBatchesAndKeepTheLossFiguresFinite() {
    TrainerConfig cfg = config(BN_ENCODER, "{\"class\": \"TripletMarginLoss\"}", 0);
    float[][] rows = new float[48][];
    long[] labels = new long[48];
    for (int b = 0; b < 3; b++) {
      float[][] x = b == 1 ? overflowing() : TrainerTest.features(b, 16);
      System.arraycopy(x, 0, rows, b * 16, 16);
      System.arraycopy(TrainerTest.labels(16), 0, labels, b * 16, 16);
    }
    org.pml4j.data.LabeledDataset data =
        new org.pml4j.data.LabeledDataset("three batches", rows, labels, new long[] {12});
    List<int[]> batches = List.of(range(0, 16), range(16, 32), range(32, 48));
    try (TrainingEngine t = new TrainingEngine(Trainers.fromConfig(cfg), TrainingEngine.Settings.batchesOnly(16),
        null)) {
      Epochs.Stats s = Epochs.run(t, data, batches, null);
      assertEquals(2, s.steps());
      assertEquals(1, s.skippedNonfinite());
      assertTrue(Double.isFinite(s.lossSum()) && Double.isFinite(s.lastLoss()), s.toString());
      assertEquals(2, t.steps());
      assertEquals(1, t.metrics().skippedNonfinite());
      assertEquals(16, t.metrics().nonfiniteRecords());
      assertEquals(32, t.metrics().samples(), "a skipped batch's records are not trained samples");
    }
  }

  /** Records fed one by one: the skipped batch's records come back through the listener; counters survive a restore. */
  @Test
  void engineHandsTheSkippedBatchToItsListener() {
    TrainerConfig cfg = config(BN_ENCODER, "{\"class\": \"TripletMarginLoss\"}", 0);
    List<Long> skippedIds = new java.util.ArrayList<>();
    List<String> reasons = new java.util.ArrayList<>();
    TrainingEngine.Listener l = new TrainingEngine.Listener() {
      @Override
      public void publish(TrainingEngine.Publication p, CheckpointableTrainer trainer) {}

      @Override
      public void skippedStep(List<TrainingEngine.TrainingRecord> records, String reason) {
        records.forEach(r -> skippedIds.add(r.id()));
        reasons.add(reason);
      }
    };
    EngineState saved;
    try (TrainingEngine e = new TrainingEngine(Trainers.fromConfig(cfg), new TrainingEngine.Settings(16, 0, 0, false,
        false), l)) {
      for (int b = 0; b < 3; b++) {
        float[][] x = b == 1 ? overflowing() : TrainerTest.features(b, 16);
        long[] y = TrainerTest.labels(16);
        for (int i = 0; i < 16; i++) {
          assertEquals(null, e.offer(b * 16 + i, y[i], x[i]));
        }
      }
      assertEquals(2, e.steps());
      assertEquals(1, reasons.size());
      assertEquals(16, skippedIds.size());
      assertEquals(16L, skippedIds.get(0));
      assertEquals(31L, skippedIds.get(15));
      saved = e.snapshot();
    }
    EngineState back = EngineStateCodec.deserialize(EngineStateCodec.VERSION, EngineStateCodec.serialize(saved));
    assertEquals(1, back.skippedNonfinite());
    assertEquals(16, back.nonfiniteRecords());
    try (TrainingEngine e = new TrainingEngine(Trainers.fromConfig(cfg), new TrainingEngine.Settings(16, 0, 0, false,
        false), l)) {
      e.restore(back);
      assertEquals(1, e.metrics().skippedNonfinite());
      assertEquals(32, e.metrics().samples());
    }
  }

  private static int[] range(int from, int to) {
    int[] r = new int[to - from];
    for (int i = 0; i < r.length; i++) {
      r[i] = from + i;
    }
    return r;
  }
}
