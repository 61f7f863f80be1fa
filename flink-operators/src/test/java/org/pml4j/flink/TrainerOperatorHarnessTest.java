package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OperatorSnapshotUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.train.EngineState;
import org.pml4j.train.EngineStateCodec;

/**
 * {@link TrainerOperator} in Flink's {@link OneInputStreamOperatorTestHarness}: the emitted versions, snapshot and
 * restore into a new operator, the end of the input, and the restore of a state written by the previous format
 * version (the committed resources of {@link TrainerStateGolden}, written by main's operator before the engine).
 */
class TrainerOperatorHarnessTest {
  static OneInputStreamOperatorTestHarness<LabeledVector, ModelUpdate> harness() throws Exception {
    return new OneInputStreamOperatorTestHarness<>(new TrainerOperator(TrainerFactory.DEFAULT,
        TrainerStateGolden.config(), TrainerStateGolden.settings()));
  }

  static void feed(OneInputStreamOperatorTestHarness<LabeledVector, ModelUpdate> h, int from, int to)
      throws Exception {
    List<LabeledVector> in = TrainerStateGolden.records();
    for (int i = from; i < to; i++) {
      h.processElement(new StreamRecord<>(in.get(i)));
    }
  }

  static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  /**
   * SHA-256 of each version's ONNX as main's operator wrote it: the golden hashes date from before ONNX files
   * recorded the project version as {@code producer_version} (then always "dev"), so that one field is set back to
   * "dev" before hashing; every other byte (graph, weights, metadata) must match.
   */
  static List<String> hashes(List<ModelUpdate> updates) throws Exception {
    List<String> out = new ArrayList<>();
    for (ModelUpdate u : updates) {
      out.add(sha256(ModelProto.parseFrom(u.onnx).toBuilder().setProducerVersion("dev").build().toByteArray()));
    }
    return out;
  }

  /**
   * The operator on the engine emits the very bytes that main's operator emitted (same versions, steps, ONNX) when its
   * loss reduces the triplets as that operator did, through index tensors.
   */
  @Test
  void emitsTheVersionsOfThePreviousOperator() throws Exception {
    try (var indexed = TrainerStateGolden.indexedTriplets(); var h = harness()) {
      h.initializeEmptyState();
      h.open();
      feed(h, 0, TrainerStateGolden.RECORDS);
      assertEquals(5, h.extractOutputValues().size(), "64 records: 8 full steps, version 4 at step 8");
      h.endInput();
      assertEquals(5, h.extractOutputValues().size(), "nothing trained since version 4: no new version at the end");
      List<ModelUpdate> out = h.extractOutputValues();
      assertEquals(List.of(0L, 1L, 2L, 3L, 4L), out.stream().map(u -> u.version).toList());
      assertEquals(List.of(0L, 2L, 4L, 6L, 8L), out.stream().map(u -> u.step).toList());
      assertEquals(TrainerStateGolden.STRAIGHT_RUN_ONNX_SHA256, hashes(out));
      assertEquals(0.35361336171627045, out.get(1).metric(TrainerOperator.METRIC_LOSS, -1));
      assertEquals(16.0, out.get(1).metric(TrainerOperator.METRIC_SAMPLES, -1));
      assertEquals(64.0, out.get(4).metric(TrainerOperator.METRIC_SAMPLES, -1));
    }
  }

  /** Bad records are counted and skipped: they change nothing in what is emitted. */
  @Test
  void skipsUnusableRecords() throws Exception {
    try (var h = harness()) {
      h.initializeEmptyState();
      h.open();
      List<LabeledVector> in = TrainerStateGolden.records();
      for (int i = 0; i < TrainerStateGolden.RECORDS; i++) {
        h.processElement(new StreamRecord<>(in.get(i)));
        if (i % 10 == 3) {
          h.processElement(new StreamRecord<>(new LabeledVector(1000 + i, null, in.get(i).features)));
          h.processElement(new StreamRecord<>(new LabeledVector(2000 + i, 1L, new float[3])));
        }
      }
      h.endInput();
      TrainerOperator op = (TrainerOperator) h.getOneInputOperator();
      assertEquals(14, op.engine().metrics().rejectedRecords());
      assertEquals(TrainerStateGolden.MASKED_KERNEL_ONNX_SHA256, hashes(h.extractOutputValues()));
    }
  }

  /** Snapshot mid-batch, a new operator restores it, continues: the same versions as the straight run. */
  @Test
  void snapshotAndRestoreContinueIdentically() throws Exception {
    OperatorSubtaskState snap;
    List<ModelUpdate> before;
    try (var h = harness()) {
      h.initializeEmptyState();
      h.open();
      feed(h, 0, 37);
      snap = h.snapshot(7, 7);
      before = h.extractOutputValues();
    }
    try (var h = harness()) {
      h.initializeState(snap);
      h.open();
      TrainerOperator op = (TrainerOperator) h.getOneInputOperator();
      assertTrue(op.wasRestored());
      assertEquals(4, op.engine().steps());
      assertEquals(5, op.engine().metrics().batchFill());
      feed(h, 37, TrainerStateGolden.RECORDS);
      h.endInput();
      List<ModelUpdate> all = new ArrayList<>(before);
      all.addAll(h.extractOutputValues());
      assertEquals(List.of(0L, 1L, 2L, 3L, 4L), all.stream().map(u -> u.version).toList());
      assertEquals(TrainerStateGolden.MASKED_KERNEL_ONNX_SHA256, hashes(all));
    }
  }

  /**
   * The whole operator snapshot that main's operator wrote (state format 1, "PML4JTR2", 3 steps and 5 buffered
   * records, versions 0 and 1 emitted) restores into today's operator, which continues exactly as main's straight run:
   * versions 2, 3, 4 with the same ONNX bytes (with the triplets reduced as main's operator did; the masked kernel
   * differs in float summation order, as a LibTorch upgrade would).
   */
  @Test
  void restoresAStateOfFormatVersion1(@TempDir Path dir) throws Exception {
    try (var indexed = TrainerStateGolden.indexedTriplets()) {
      restoreVersion1(dir);
    }
  }

  private void restoreVersion1(Path dir) throws Exception {
    Path file = dir.resolve("v1.snapshot");
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(TrainerStateGolden.OPERATOR_SNAPSHOT)) {
      Files.copy(in, file);
    }
    OperatorSubtaskState old = OperatorSnapshotUtil.readStateHandle(file.toString());
    try (var h = harness()) {
      h.initializeState(old);
      h.open();
      TrainerOperator op = (TrainerOperator) h.getOneInputOperator();
      assertTrue(op.wasRestored());
      assertEquals(3, op.engine().steps());
      assertEquals(5, op.engine().metrics().batchFill());
      assertEquals(1, op.engine().metrics().lastVersion());
      assertEquals(24, op.engine().metrics().samples());
      feed(h, TrainerStateGolden.SNAPSHOT_AFTER, TrainerStateGolden.RECORDS);
      h.endInput();
      List<ModelUpdate> out = h.extractOutputValues();
      assertEquals(List.of(2L, 3L, 4L), out.stream().map(u -> u.version).toList());
      assertEquals(TrainerStateGolden.STRAIGHT_RUN_ONNX_SHA256.subList(2, 5), hashes(out));
      // and the next checkpoint is written in the current format, which restores too
      OperatorSubtaskState next = h.snapshot(2, 2);
      try (var h2 = harness()) {
        h2.initializeState(next);
        h2.open();
        assertEquals(8, ((TrainerOperator) h2.getOneInputOperator()).engine().steps());
      }
    }
  }

  /** The bare list-state entry of format 1: every field as main's operator wrote it. */
  @Test
  void readsTheVersion1Entry() throws Exception {
    byte[] blob;
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(TrainerStateGolden.BLOB)) {
      blob = in.readAllBytes();
    }
    assertTrue(EngineStateCodec.isVersion1(blob));
    EngineState s = EngineStateSerializer.fromEntry(blob);
    assertEquals(2, s.nextVersion());
    assertEquals(2, s.lastPublishedStep());
    assertTrue(s.initialDone());
    assertEquals(24, s.samples());
    assertEquals(1, s.lossSteps());
    assertEquals(24, s.queueFill());
    List<LabeledVector> in = TrainerStateGolden.records();
    assertEquals(List.of(24L, 25L, 26L, 27L, 28L), s.batch().stream().map(r -> r.id()).toList());
    for (int i = 0; i < 5; i++) {
      assertEquals(in.get(24 + i).label, s.batch().get(i).label());
      assertArrayEquals(in.get(24 + i).features, s.batch().get(i).features());
    }
    // written again in the current format: version 2 first, and read back to the same state
    byte[] entry = EngineStateSerializer.toEntry(s);
    assertEquals(EngineStateCodec.VERSION, java.nio.ByteBuffer.wrap(entry).getInt());
    assertFalse(EngineStateCodec.isVersion1(entry));
    EngineState back = EngineStateSerializer.fromEntry(entry);
    assertArrayEquals(s.trainer(), back.trainer());
    assertEquals(s.lossSum(), back.lossSum());
    assertEquals(s.trainNanos(), back.trainNanos());
  }

  /** A batch whose step the trainer's guard skips goes to the rejected side output; the job goes on. */
  @Test
  void skippedStepGoesToTheRejectedOutput() throws Exception {
    // BatchNorm over a batch holding a row of 3e38 values: the batch variance overflows float32
    String bn = """
        {"encoder": {"class": "Sequential", "params": {"layers": [
            {"class": "Linear", "params": {"in_features": 8, "out_features": 16}},
            {"class": "BatchNorm1d", "params": {"num_features": 16}},
            {"class": "ReLU"},
            {"class": "Linear", "params": {"in_features": 16, "out_features": 4}},
            {"class": "L2Normalize"}]}},
         "loss": {"class": "TripletMarginLoss"}, "seed": 3, "threads": 1}
        """;
    try (var h = new OneInputStreamOperatorTestHarness<LabeledVector, ModelUpdate>(new TrainerOperator(
        TrainerFactory.DEFAULT, bn, TrainerStateGolden.settings()))) {
      h.initializeEmptyState();
      h.open();
      List<LabeledVector> in = TrainerStateGolden.records();
      for (int i = 0; i < 24; i++) {
        LabeledVector v = in.get(i);
        if (i == 11) {
          float[] big = new float[TrainerStateGolden.DIM];
          java.util.Arrays.fill(big, 3e38f);
          v = new LabeledVector(v.id, v.label, big);
        }
        h.processElement(new StreamRecord<>(v));
      }
      var rejected = h.getSideOutput(TrainerOperator.REJECTED);
      assertEquals(8, rejected.size(), "the second batch (records 8..15)");
      for (var r : rejected) {
        assertEquals(RejectedRecord.NONFINITE_STEP, r.getValue().reason);
      }
      TrainerOperator op = (TrainerOperator) h.getOneInputOperator();
      assertEquals(2, op.engine().steps());
      assertEquals(1, op.engine().metrics().skippedNonfinite());
      h.endInput();
      List<ModelUpdate> out = h.extractOutputValues();
      assertEquals(1.0, out.get(out.size() - 1).metric(TrainerOperator.METRIC_SKIPPED_NONFINITE, -1));
    }
  }
}
