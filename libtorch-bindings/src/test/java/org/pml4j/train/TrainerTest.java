package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.nn.StateDicts;
import org.pml4j.torch.Scope;

class TrainerTest {
  static final int DIM = 12;
  static final int CLASSES = 4;

  /** An MLP with Dropout, so the LibTorch generator state matters. */
  static final String ENCODER = """
      {"class": "Sequential", "params": {"layers": [
        {"class": "Linear", "params": {"in_features": 12, "out_features": 24}},
        {"class": "ReLU"},
        {"class": "Dropout", "params": {"p": 0.2}},
        {"class": "Linear", "params": {"in_features": 24, "out_features": 8}},
        {"class": "L2Normalize"}]}}""";

  static TrainerConfig config(String loss, String miner, String optimizer, int memory) {
    return new TrainerConfig(Trainers.parse(ENCODER), Trainers.parse(loss),
        miner == null ? null : Trainers.parse(miner), optimizer == null ? null : Trainers.parse(optimizer), memory,
        42, 1);
  }

  /** Batch {@code i}: a deterministic function of the step index, independent of any trainer. */
  static float[][] features(int i, int b) {
    Random r = new Random(1000 + i);
    float[][] x = new float[b][DIM];
    for (int k = 0; k < b; k++) {
      int c = k % CLASSES;
      for (int j = 0; j < DIM; j++) {
        x[k][j] = (float) ((j % CLASSES == c ? 1.5 : 0) + r.nextGaussian() * 0.7);
      }
    }
    return x;
  }

  static long[] labels(int b) {
    long[] y = new long[b];
    for (int k = 0; k < b; k++) {
      y[k] = k % CLASSES;
    }
    return y;
  }

  /** Everything a trainer holds that must agree bit for bit after a restore (not the optimizer archive's framing). */
  static List<byte[]> state(BaseTrainer t) {
    List<byte[]> out = new ArrayList<>();
    out.add(t.encoder().saveState());
    out.add(StateDicts.save(t.loss().parameters()));
    if (t.head != null) {
      out.add(t.head.saveState());
    }
    if (t.memory() != null) {
      try (Scope s = Scope.open()) {
        Map<String, Object> m = t.memory().stateSnapshot();
        out.add(StateDicts.save(Map.of("e", (Tensor) m.get("embedding_memory"), "l", (Tensor) m.get("label_memory"))));
        out.add((m.get("queue_idx") + "/" + m.get("has_been_filled")).getBytes());
      }
    }
    // The optimizer's moments are checked through their effect: the parameters after the M steps that use them.
    return out;
  }

  /**
   * N steps, snapshot, restore into a fresh trainer (after disturbing the global generator), M more steps: equal, byte
   * for byte, to N + M steps straight; the losses of the last M steps agree too.
   */
  static void checkRestoreIsExact(TrainerConfig cfg, int n, int m, int batch) {
    double[] straightLosses = new double[n + m];
    List<byte[]> straight;
    long straightNext;
    long straightTorchDraw;
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      for (int i = 0; i < n + m; i++) {
        straightLosses[i] = t.trainStep(features(i, batch), labels(batch)).loss();
      }
      straight = state(t);
      straightNext = t.random().nextLong();
      straightTorchDraw = torch.randint(1L << 40, new long[] {1}).item_long();
    }
    byte[] snap;
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      for (int i = 0; i < n; i++) {
        t.trainStep(features(i, batch), labels(batch));
      }
      snap = t.snapshot();
    }
    // disturb everything the restore must set
    torch.manual_seed(12345);
    try (Scope s = Scope.open()) {
      torch.randn(100);
    }
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      t.trainStep(features(99, batch), labels(batch)); // moves parameters, moments, queue, generators
      t.restore(snap);
      assertEquals(n, t.steps());
      for (int i = n; i < n + m; i++) {
        StepResult r = t.trainStep(features(i, batch), labels(batch));
        assertEquals(i + 1, r.step());
        assertEquals(Double.doubleToRawLongBits(straightLosses[i]), Double.doubleToRawLongBits(r.loss()),
            "loss of step " + (i + 1) + ": " + straightLosses[i] + " vs " + r.loss());
      }
      List<byte[]> restored = state(t);
      assertEquals(straight.size(), restored.size());
      for (int k = 0; k < straight.size(); k++) {
        assertArrayEquals(straight.get(k), restored.get(k), "state part " + k + " differs");
      }
      assertEquals(straightNext, t.random().nextLong(), "java Random continues");
      assertEquals(straightTorchDraw, torch.randint(1L << 40, new long[] {1}).item_long(), "torch generator continues");
    }
  }

  @Test
  void adamTripletMinerRestoreIsBitExact() {
    checkRestoreIsExact(config("{\"class\": \"TripletMarginLoss\", \"params\": {\"margin\": 0.1}}",
        "{\"class\": \"MultiSimilarityMiner\", \"params\": {\"epsilon\": 0.1}}",
        "{\"class\": \"Adam\", \"params\": {\"lr\": 0.01}}", 0), 4, 4, 32);
  }

  @Test
  void crossBatchMemoryContrastiveRestoreIsBitExact() {
    // memory 80, batch 16: 3 steps leave the queue unfilled at the snapshot, the next 4 wrap it
    TrainerConfig cfg = config("{\"class\": \"ContrastiveLoss\"}", "{\"class\": \"PairMarginMiner\"}",
        "{\"class\": \"Adam\", \"params\": {\"lr\": 0.005}}", 80);
    checkRestoreIsExact(cfg, 3, 4, 16);
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      assertNotNull(t.memory());
      assertEquals(16, t.trainStep(features(0, 16), labels(16)).queueFill());
      for (int i = 1; i < 6; i++) {
        t.trainStep(features(i, 16), labels(16));
      }
      assertTrue(t.memory().hasBeenFilled());
      assertEquals(80, t.queueFill());
    }
  }

  @Test
  void lossParametersInTheirOwnGroupRestoreIsBitExact() {
    // ArcFace's W trained by SGD (nesterov) at its own learning rate
    TrainerConfig cfg = config("{\"class\": \"ArcFaceLoss\", \"params\": {\"num_classes\": 4, \"embedding_size\": 8}}",
        null, "{\"class\": \"SGD\", \"params\": {\"lr\": 0.05, \"momentum\": 0.9, \"nesterov\": true, "
            + "\"weight_decay\": 1e-4, \"loss_lr\": 0.5}}", 0);
    checkRestoreIsExact(cfg, 3, 3, 16);
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      assertEquals(2, t.optimizer().groups());
      assertEquals(0.05, t.optimizer().lr(0), 0);
      assertEquals(0.5, t.optimizer().lr(1), 0);
      byte[] w0 = StateDicts.save(t.loss().parameters());
      t.trainStep(features(0, 16), labels(16));
      assertFalse(Arrays.equals(w0, StateDicts.save(t.loss().parameters())), "W is trained");
    }
  }

  @Test
  void trainWithClassifierRestoreIsBitExact() {
    TrainerConfig cfg = config("""
        {"class": "TrainWithClassifier", "params": {"metric_loss": {"class": "TripletMarginLoss"},
         "num_classes": 4, "loss_weights": {"metric_loss": 1.0, "classifier_loss": 0.5}}}""",
        "{\"class\": \"TripletMarginMiner\"}", "{\"class\": \"AdamW\", \"params\": {\"lr\": 0.01}}", 0);
    checkRestoreIsExact(cfg, 3, 3, 16);
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      TrainWithClassifier twc = assertInstanceOf(TrainWithClassifier.class, t);
      assertEquals(4, twc.numClasses());
      assertEquals(0.5, twc.classifierLossWeight(), 0);
      assertEquals(8, twc.classifier().inFeatures());
      long[] bad = labels(16);
      bad[3] = 4;
      assertThrows(IllegalArgumentException.class, () -> t.trainStep(features(0, 16), bad));
    }
  }

  @Test
  void trainWithClassifierFromPlainConfigMatchesWrapperForm() {
    TrainerConfig plain = config("{\"class\": \"TripletMarginLoss\"}", null, null, 0);
    double[] la = new double[2];
    double[] lb = new double[2];
    try (TrainWithClassifier a = new TrainWithClassifier(plain, 4, 1.0, 0.5)) {
      for (int i = 0; i < 2; i++) {
        la[i] = a.trainStep(features(i, 16), labels(16)).loss();
      }
    }
    try (BaseTrainer b = Trainers.fromConfig(new TrainWithClassifier(plain, 4, 1.0, 0.5).config())) {
      for (int i = 0; i < 2; i++) {
        lb[i] = b.trainStep(features(i, 16), labels(16)).loss();
      }
    }
    assertArrayEquals(la, lb, 0);
  }

  @Test
  void trainingReducesTheLoss() {
    TrainerConfig cfg = config(Trainers.DEFAULT_LOSS, Trainers.DEFAULT_MINER, null, 0);
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      double first = 0;
      double last = 0;
      for (int i = 0; i < 40; i++) {
        double l = t.trainStep(features(i % 4, 32), labels(32)).loss();
        if (i < 4) {
          first += l;
        }
        if (i >= 36) {
          last += l;
        }
      }
      assertTrue(last < first, "loss " + first / 4 + " -> " + last / 4);
    }
  }

  @Test
  void snapshotCarriesItsConfigAndFilesAreAtomic(@TempDir Path dir) throws Exception {
    TrainerConfig cfg = config("{\"class\": \"ContrastiveLoss\"}", null, null, 48);
    Path file = dir.resolve("sub/checkpoint.bin");
    List<byte[]> expected;
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      t.trainStep(features(0, 16), labels(16));
      t.trainStep(features(1, 16), labels(16));
      Checkpoints.save(t, file);
      Checkpoints.save(t, file); // replaces
      expected = state(t);
    }
    try (var files = Files.list(file.getParent())) {
      assertEquals(List.of("checkpoint.bin"), files.map(p -> p.getFileName().toString()).toList(), "no temp files");
    }
    byte[] bytes = Files.readAllBytes(file);
    assertEquals(2, Trainers.stepsOf(bytes));
    assertEquals(48, Trainers.configOf(bytes).memorySize());
    try (BaseTrainer t = Checkpoints.load(file)) {
      assertEquals(2, t.steps());
      List<byte[]> got = state(t);
      for (int k = 0; k < expected.size(); k++) {
        assertArrayEquals(expected.get(k), got.get(k));
      }
    }
  }

  @Test
  void corruptOrForeignSnapshotsAreRejected() {
    TrainerConfig cfg = config("{\"class\": \"ContrastiveLoss\"}", null, null, 0);
    byte[] snap;
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      t.trainStep(features(0, 16), labels(16));
      snap = t.snapshot();
    }
    byte[] flipped = snap.clone();
    flipped[flipped.length / 2] ^= 1;
    byte[] truncated = Arrays.copyOf(snap, snap.length - 100);
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      assertThrows(IllegalArgumentException.class, () -> t.restore(flipped));
      assertThrows(IllegalArgumentException.class, () -> t.restore(truncated));
      assertThrows(IllegalArgumentException.class, () -> t.restore(new byte[] {1, 2, 3}));
      assertEquals(0, t.steps());
    }
    TrainerConfig other = config("{\"class\": \"ContrastiveLoss\", \"params\": {\"pos_margin\": 0.1}}", null, null, 0);
    try (BaseTrainer t = Trainers.fromConfig(other)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.restore(snap));
      assertTrue(e.getMessage().contains("loss spec differs"), e.getMessage());
    }
  }

  @Test
  void badBatchesAndConfigsAreRejected() {
    TrainerConfig cfg = config(Trainers.DEFAULT_LOSS, null, null, 0);
    try (BaseTrainer t = Trainers.fromConfig(cfg)) {
      assertThrows(IllegalArgumentException.class, () -> t.trainStep(features(0, 4), labels(3)));
      assertThrows(IllegalArgumentException.class, () -> t.trainStep(new float[][] {new float[5]}, new long[1]));
      float[][] nan = features(0, 4);
      nan[2][3] = Float.NaN;
      assertThrows(IllegalArgumentException.class, () -> t.trainStep(nan, labels(4)));
      assertThrows(IllegalArgumentException.class, () -> t.trainStep(new float[0][], new long[0]));
      assertEquals(0, t.steps());
    }
    // memory around a loss CrossBatchMemory does not support
    assertThrows(IllegalArgumentException.class,
        () -> Trainers.fromConfig(config("{\"class\": \"ArcFaceLoss\", \"params\": {\"num_classes\": 4, "
            + "\"embedding_size\": 8}}", null, null, 32)));
    // a stateful loss the snapshot cannot carry
    assertThrows(IllegalArgumentException.class,
        () -> Trainers.fromConfig(config("{\"class\": \"DynamicSoftMarginLoss\"}", null, null, 0)));
    BaseTrainer closed = Trainers.fromConfig(cfg);
    closed.close();
    assertThrows(IllegalStateException.class, closed::snapshot);
  }

  @Test
  void configJsonRoundTrips() {
    TrainerConfig cfg = config(Trainers.DEFAULT_LOSS, Trainers.DEFAULT_MINER, Trainers.DEFAULT_OPTIMIZER, 7);
    JsonNode json = Trainers.toJson(cfg);
    assertEquals(cfg, Trainers.configFromJson(json));
    assertThrows(IllegalArgumentException.class,
        () -> Trainers.configFromJson(Trainers.parse("{\"encoder\": {}, \"lr\": 1}")));
  }
}
