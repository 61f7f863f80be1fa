package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.train.TrainerConfig;
import org.pml4j.data.SyntheticClusters;

/** The test trainer itself: it learns, and a snapshot restored into a fresh trainer continues bit-identically. */
class SimpleTrainerTest {
  private static float[][][] batches(GeneratedRecords gen, int n, int b, long[][] labels) {
    float[][][] x = new float[n][b][];
    for (int i = 0; i < n; i++) {
      labels[i] = new long[b];
      for (int j = 0; j < b; j++) {
        LabeledVector v = gen.map((long) i * b + j);
        x[i][j] = v.features;
        labels[i][j] = v.label;
      }
    }
    return x;
  }

  @Test
  void snapshotRestoreContinuesBitIdentically() {
    TrainerConfig cfg = TestSupport.tinyConfig(8, 4, 7);
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, 8, 0.5, 1.0, 3), 0, 0);
    long[][] y = new long[20][];
    float[][][] x = batches(gen, 20, 16, y);
    try (SimpleTrainer a = new SimpleTrainer(cfg); SimpleTrainer b = new SimpleTrainer(cfg)) {
      double first = 0;
      double last = 0;
      for (int i = 0; i < 10; i++) {
        last = a.trainStep(x[i], y[i]).loss();
        if (i == 0) {
          first = last;
        }
      }
      byte[] snap = a.snapshot();
      b.restore(snap);
      assertEquals(10, b.steps());
      // (Not the snapshot bytes: LibTorch's archive writer stamps each archive with a random serialization id.)
      assertArrayEquals(a.encoder().saveState(), b.encoder().saveState());
      for (int i = 10; i < 20; i++) {
        assertEquals(a.trainStep(x[i], y[i]).loss(), b.trainStep(x[i], y[i]).loss());
      }
      assertArrayEquals(a.encoder().saveState(), b.encoder().saveState());
      assertArrayEquals(OnnxExporter.export(a.encoder(), 1, 20), OnnxExporter.export(b.encoder(), 1, 20));
      assertTrue(last < first, "loss should fall: " + first + " -> " + last);
    }
  }
}
