package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TrainingEngineTest {
  static final int BATCH = 8;

  /** What the engine published: version, step, mean loss and the encoder's parameters at that moment. */
  record Pub(long version, long step, double loss, byte[] encoder) {}

  static final class Recorder implements TrainingEngine.Listener {
    final List<Pub> pubs = new ArrayList<>();

    @Override
    public void publish(TrainingEngine.Publication p, CheckpointableTrainer trainer) {
      pubs.add(new Pub(p.version(), p.step(), p.metrics().get(TrainingEngine.METRIC_LOSS),
          trainer.encoder().saveState()));
    }
  }

  static BaseTrainer trainer() {
    return Trainers.fromConfig(TrainerTest.config("{\"class\": \"TripletMarginLoss\"}",
        "{\"class\": \"MultiSimilarityMiner\"}", null, 16));
  }

  /** Record {@code i} of a deterministic stream. */
  static float[] row(int i) {
    return TrainerTest.features(i / BATCH, BATCH)[i % BATCH];
  }

  static long label(int i) {
    return (i % BATCH) % TrainerTest.CLASSES;
  }

  static void feed(TrainingEngine e, int from, int to) {
    for (int i = from; i < to; i++) {
      assertNull(e.offer(i, label(i), row(i)));
    }
  }

  @Test
  void cutsBatchesPublishesByCountAndAtTheEnd() {
    Recorder r = new Recorder();
    try (TrainingEngine e = new TrainingEngine(trainer(), new TrainingEngine.Settings(BATCH, 2, 0, true, true), r)) {
      feed(e, 0, 5 * BATCH + 3);
      assertEquals(5, e.steps());
      assertEquals(3, e.metrics().batchFill());
      assertEquals(5L * BATCH, e.metrics().samples());
      // version 0 before any step, then every 2 steps
      assertEquals(List.of(0L, 1L, 2L), r.pubs.stream().map(Pub::version).toList());
      assertEquals(List.of(0L, 2L, 4L), r.pubs.stream().map(Pub::step).toList());
      assertEquals(0.0, r.pubs.get(0).loss());
      assertTrue(r.pubs.get(1).loss() > 0);
      assertEquals(0, e.endInput()); // the 3 remaining records are a final step
      assertEquals(6, e.steps());
      assertEquals(4, r.pubs.size(), "one more version at the end");
      assertEquals(6, r.pubs.get(3).step());
      assertEquals(3, e.metrics().lastVersion());
      assertTrue(e.metrics().trainSeconds() > 0);
    }
  }

  @Test
  void refusesUnusableRecordsWithAReason() {
    try (TrainingEngine e = new TrainingEngine(trainer(), TrainingEngine.Settings.batchesOnly(BATCH), null)) {
      assertEquals("no label", e.offer(1, null, row(0)));
      assertEquals("width 3, the encoder takes 12", e.offer(2, 1L, new float[3]));
      float[] bad = row(0).clone();
      bad[4] = Float.NaN;
      assertEquals("non-finite value NaN at 4", e.offer(3, 1L, bad));
      assertEquals(3, e.metrics().rejectedRecords());
      assertEquals(0, e.metrics().batchFill());
    }
  }

  @Test
  void timeTriggerUsesTheClock() {
    AtomicLong now = new AtomicLong(1000);
    Recorder r = new Recorder();
    try (TrainingEngine e = new TrainingEngine(trainer(), new TrainingEngine.Settings(BATCH, 0, 500, false, false),
        r, now::get)) {
      feed(e, 0, BATCH);
      assertEquals(0, r.pubs.size(), "no time has passed");
      now.addAndGet(500);
      feed(e, BATCH, 2 * BATCH);
      assertEquals(1, r.pubs.size());
      assertEquals(2, r.pubs.get(0).step());
      assertEquals(0, e.endInput());
      assertEquals(1, r.pubs.size(), "nothing trained since the last version");
    }
  }

  @Test
  void endInputDropsAPartialBatchWhenToldTo() {
    Recorder r = new Recorder();
    try (TrainingEngine e = new TrainingEngine(trainer(), new TrainingEngine.Settings(BATCH, 0, 0, false, false), r)) {
      feed(e, 0, BATCH + 5);
      assertEquals(5, e.endInput());
      assertEquals(1, e.steps());
      assertEquals(List.of(0L), r.pubs.stream().map(Pub::version).toList());
    }
  }

  /** Snapshot mid-batch, restore into a fresh engine (through the codec), continue: same versions, bit for bit. */
  @Test
  void restoredEngineContinuesIdentically() {
    TrainingEngine.Settings s = new TrainingEngine.Settings(BATCH, 2, 0, true, true);
    int total = 7 * BATCH + 5;
    int cut = 3 * BATCH + 5;
    Recorder straight = new Recorder();
    try (TrainingEngine e = new TrainingEngine(trainer(), s, straight)) {
      feed(e, 0, total);
      e.endInput();
    }
    Recorder first = new Recorder();
    byte[] saved;
    try (TrainingEngine e = new TrainingEngine(trainer(), s, first)) {
      feed(e, 0, cut);
      saved = EngineStateCodec.serialize(e.snapshot());
    }
    Recorder second = new Recorder();
    try (TrainingEngine e = new TrainingEngine(trainer(), s, second)) {
      EngineState st = EngineStateCodec.deserialize(EngineStateCodec.VERSION, saved);
      assertEquals(5, st.batch().size());
      assertArrayEquals(row(cut - 1), st.batch().get(4).features());
      e.restore(st);
      assertEquals(3, e.steps());
      assertEquals(5, e.metrics().batchFill());
      feed(e, cut, total);
      e.endInput();
    }
    List<Pub> resumed = new ArrayList<>(first.pubs);
    resumed.addAll(second.pubs);
    assertEquals(straight.pubs.size(), resumed.size());
    for (int i = 0; i < resumed.size(); i++) {
      Pub a = straight.pubs.get(i);
      Pub b = resumed.get(i);
      assertEquals(a.version(), b.version());
      assertEquals(a.step(), b.step());
      assertEquals(a.loss(), b.loss(), "version " + a.version());
      assertArrayEquals(a.encoder(), b.encoder(), "parameters of version " + a.version());
    }
  }

  @Test
  void codecRoundTripAndBadInput() {
    try (TrainingEngine e = new TrainingEngine(trainer(), TrainingEngine.Settings.batchesOnly(BATCH), null)) {
      feed(e, 0, BATCH + 2);
      EngineState s = e.snapshot();
      byte[] b = EngineStateCodec.serialize(s);
      EngineState back = EngineStateCodec.deserialize(2, b);
      assertArrayEquals(s.trainer(), back.trainer());
      assertEquals(s.samples(), back.samples());
      assertEquals(s.lastLoss(), back.lastLoss());
      assertEquals(s.lastPublishedStep(), back.lastPublishedStep());
      assertEquals(2, back.batch().size());
      assertArrayEquals(b, EngineStateCodec.serialize(back));
      assertFalse(EngineStateCodec.isVersion1(b));
      IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
          () -> EngineStateCodec.deserialize(3, b));
      assertTrue(unknown.getMessage().contains("version 3 is unknown"), unknown.getMessage());
      IllegalArgumentException cut = assertThrows(IllegalArgumentException.class,
          () -> EngineStateCodec.deserialize(2, Arrays.copyOf(b, b.length - 7)));
      assertTrue(cut.getMessage().contains("engine state"), cut.getMessage());
      IllegalArgumentException v1 = assertThrows(IllegalArgumentException.class,
          () -> EngineStateCodec.deserialize(1, b));
      assertTrue(v1.getMessage().contains("PML4JTR2"), v1.getMessage());
      // a batch that cannot be partial for this engine
      EngineState full = new EngineState(s.trainer(), List.of(new TrainingEngine.TrainingRecord(1, 0, new float[5])),
          0, -1, true, 0, 0, 0, 0, 0, 0, 0, 0, 0);
      IllegalArgumentException width = assertThrows(IllegalArgumentException.class, () -> e.restore(full));
      assertTrue(width.getMessage().contains("width 5"), width.getMessage());
    }
  }

  @Test
  void closeClosesTheTrainer() {
    BaseTrainer t = trainer();
    TrainingEngine e = new TrainingEngine(t, TrainingEngine.Settings.batchesOnly(BATCH), null);
    e.close();
    e.close();
    assertThrows(IllegalStateException.class, t::snapshot);
    assertThrows(IllegalStateException.class, () -> e.offer(0, 0L, row(0)));
  }
}
