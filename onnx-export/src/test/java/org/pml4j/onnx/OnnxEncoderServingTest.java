package org.pml4j.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.nn.Sequential;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Torch;

/**
 * {@link OnnxEncoder}'s serving paths (pooled buffers and tensors reused across calls, pinned outputs, the flat API)
 * against the LibTorch forward and against each other, and its errors for bad arguments and unreadable files.
 */
class OnnxEncoderServingTest {
  static final Sequential MLP = Registry.build("""
      {"class": "Sequential", "params": {"layers": [
        {"class": "Linear", "params": {"in_features": 20, "out_features": 16}}, {"class": "ReLU"},
        {"class": "Linear", "params": {"in_features": 16, "out_features": 5}}, {"class": "L2Normalize"}]}}""",
      Sequential.class);

  static float[] flatten(float[][] rows) {
    int d = rows.length == 0 ? 0 : rows[0].length;
    float[] f = new float[rows.length * d];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(rows[i], 0, f, i * d, d);
    }
    return f;
  }

  /**
   * Calls of changing batch sizes on one encoder (each call re-fits or reuses a pooled slot) give exactly what a
   * fresh encoder gives for the same rows, and match LibTorch; the flat API gives the same values.
   */
  @Test
  void reusedSlotsGiveTheSameValuesAsFreshOnes() {
    Torch.setNumThreads(1);
    byte[] model = OnnxExporter.export(MLP, 1, 1);
    Random r = new Random(11);
    int[] sizes = {1, 7, 1, 256, 7, 7, 1, 3, 256};
    try (OnnxEncoder ort = OnnxEncoder.load(model)) {
      assertEquals(5, ort.embeddingSize());
      for (int n : sizes) {
        float[][] x = OnnxParityTest.randomRows(r, n, 20);
        float[][] expected;
        try (OnnxEncoder fresh = OnnxEncoder.load(model)) {
          expected = fresh.embed(x);
        }
        float[][] got = ort.embed(x);
        assertEquals(n, got.length);
        for (int i = 0; i < n; i++) {
          assertArrayEquals(expected[i], got[i], "batch " + n + " row " + i);
        }
        assertTrue(OnnxExporter.maxAbsDiff(OnnxExporter.torchForward(MLP, x), got) <= OnnxParityTest.TOL);
        assertArrayEquals(flatten(expected), ort.embedFlat(flatten(x)), "embedFlat, batch " + n);
        float[] out = new float[n * 5];
        ort.embedFlat(flatten(x), out);
        assertArrayEquals(flatten(expected), out, "embedFlat into an array, batch " + n);
        assertArrayEquals(expected[0], ort.embed(x[0]), "one row, batch " + n);
      }
      assertEquals(0, ort.embedFlat(new float[0]).length);
    }
  }

  /** Chunked calls (maxBatchSize 4) of the flat API and of rows, from several threads at once. */
  @Test
  void chunkedConcurrentCallsAgree() throws Exception {
    byte[] model = OnnxExporter.export(MLP, 1, 1);
    float[][] x = OnnxParityTest.randomRows(new Random(3), 30, 20);
    float[] flat = flatten(x);
    try (OnnxEncoder ort = OnnxEncoder.load(model, new OnnxEncoder.Options(1, 4))) {
      float[][] reference = ort.embed(x);
      assertTrue(OnnxExporter.maxAbsDiff(OnnxExporter.torchForward(MLP, x), reference) <= OnnxParityTest.TOL);
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<float[]>> futures = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
          int k = i;
          futures.add(pool.submit(() -> switch (k % 3) {
            case 0 -> flatten(ort.embed(x));
            case 1 -> ort.embedFlat(flat);
            default -> {
              float[] one = ort.embed(x[k % x.length]);
              float[] all = flatten(reference).clone();
              System.arraycopy(one, 0, all, (k % x.length) * 5, 5);
              yield all;
            }
          }));
        }
        for (Future<float[]> f : futures) {
          assertArrayEquals(flatten(reference), f.get());
        }
      } finally {
        pool.shutdown();
      }
      ort.close();
      assertThrows(IllegalStateException.class, () -> ort.embedFlat(flat));
      assertThrows(IllegalStateException.class, () -> ort.embed(x[0]));
    }
  }

  @Test
  void nullAndMisshapenArgumentsNameTheArgument() {
    byte[] model = OnnxExporter.export(MLP, 1, 1);
    assertMessage(assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load((byte[]) null)), "model");
    assertMessage(assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load((Path) null)), "file");
    assertMessage(assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load(model, null)), "options");
    assertMessage(assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load(null,
        OnnxEncoder.Options.defaults())), "model");
    try (OnnxEncoder ort = OnnxEncoder.load(model)) {
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embed((float[][]) null)), "rows");
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embed((float[]) null)), "row");
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embed(new float[][] {null})),
          "row 0 has no values");
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embed(new float[3])),
          "row has 3 values; the model takes 20");
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embedFlat(null)), "rows");
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embedFlat(new float[30])),
          "rows has 30 values, not a multiple of the model's 20");
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embedFlat(new float[40], null)), "out");
      assertMessage(assertThrows(IllegalArgumentException.class, () -> ort.embedFlat(new float[40],
          new float[9])), "out has 9 values; 2 rows take 10");
    }
  }

  @Test
  void unreadableFilesAreClearErrors(@TempDir Path dir) throws Exception {
    Path missing = dir.resolve("nope.onnx");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load(missing));
    assertMessage(e, missing.toString());
    assertMessage(e, "no such file");
    e = assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load(dir));
    assertMessage(e, dir.toString());
    assertMessage(e, "is a directory");
    Path garbage = Files.write(dir.resolve("garbage.onnx"), new byte[] {1, 2, 3});
    e = assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load(garbage));
    assertMessage(e, garbage.toString());
    assertMessage(e, "ONNX Runtime cannot load the model");
    Path good = Files.write(dir.resolve("good.onnx"), OnnxExporter.export(MLP, 1, 1));
    try (OnnxEncoder ort = OnnxEncoder.load(good)) {
      assertEquals(5, ort.embed(new float[20]).length);
    }
  }

  static void assertMessage(Exception e, String part) {
    assertTrue(e.getMessage() != null && e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
  }
}
