package org.pml4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
  static boolean installed() {
    return Files.isRegularFile(Path.of(FashionMnist.DEFAULT_DIR, "t10k-labels-idx1-ubyte.gz"));
  }

  static void checkSplit(LabeledDataset d, int rows, int perClass) {
    assertEquals(rows, d.size());
    assertEquals(784, d.numFeatures());
    assertArrayEquals(new long[] {1, 28, 28}, d.sampleShape());
    assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, d.classes());
    int[] counts = new int[10];
    for (long l : d.labels()) {
      counts[(int) l]++;
    }
    int[] expected = new int[10];
    Arrays.fill(expected, perClass);
    assertArrayEquals(expected, counts, "Fashion-MNIST is balanced");
    float min = 1;
    float max = 0;
    for (float[] row : d.features()) {
      assertEquals(784, row.length);
      for (float v : row) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    assertEquals(0f, min);
    assertEquals(1f, max);
  }

  @Test
  void readsTheRealTestSplit() {
    assumeTrue(installed(), "dataset-fashion-mnist is not installed");
    LabeledDataset test = FashionMnist.load(FashionMnist.Split.TEST);
    checkSplit(test, 10000, 1000);
    assertEquals("fashion-mnist/test", test.name());
    // the first test image is an ankle boot (label 9), as in every Fashion-MNIST copy
    assertEquals(9, test.labels()[0]);
  }

  @Test
  void readsTheRealTrainSplit() {
    assumeTrue(installed(), "dataset-fashion-mnist is not installed");
    LabeledDataset train = FashionMnist.load(FashionMnist.Split.TRAIN);
    checkSplit(train, 60000, 6000);
    assertEquals(9, train.labels()[0]);
    LabeledDataset head = FashionMnist.load(Path.of(FashionMnist.DEFAULT_DIR), FashionMnist.Split.TRAIN, 100);
    assertEquals(100, head.size());
    assertArrayEquals(train.features()[99], head.features()[99]);
  }

  // ------------------------------------------------------------------------------------------ synthetic IDX files

  static byte[] idx(int rank, int[] dims, byte[] values) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(b);
    out.writeInt(0x0800 | rank);
    for (int d : dims) {
      out.writeInt(d);
    }
    out.write(values);
    out.flush();
    return b.toByteArray();
  }

  static void write(Path file, byte[] bytes, boolean gzip) throws IOException {
    try (OutputStream o = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file)) {
      o.write(bytes);
    }
  }

  /** A 3-image split: pixel values i*10+..., labels 0, 5, 9. */
  static void writeSplit(Path dir, String stem, boolean gzip, byte[] labels) throws IOException {
    byte[] px = new byte[3 * 784];
    for (int i = 0; i < px.length; i++) {
      px[i] = (byte) (i % 256);
    }
    String sfx = gzip ? ".gz" : "";
    write(dir.resolve(stem + "-images-idx3-ubyte" + sfx), idx(3, new int[] {3, 28, 28}, px), gzip);
    write(dir.resolve(stem + "-labels-idx1-ubyte" + sfx), idx(1, new int[] {labels.length}, labels), gzip);
  }

  @Test
  void readsGzipAndPlainFiles(@TempDir Path dir) throws IOException {
    writeSplit(dir, "t10k", true, new byte[] {0, 5, 9});
    writeSplit(dir, "train", false, new byte[] {1, 2, 3});
    LabeledDataset t = FashionMnist.load(dir, FashionMnist.Split.TEST, Integer.MAX_VALUE);
    assertArrayEquals(new long[] {0, 5, 9}, t.labels());
    assertEquals(255 / 255f, t.features()[0][255]);
    assertEquals((784 % 256) / 255f, t.features()[1][0]); // image 1 starts at flat index 784
    LabeledDataset tr = FashionMnist.load(dir, FashionMnist.Split.TRAIN, 2);
    assertArrayEquals(new long[] {1, 2}, tr.labels());
  }

  @Test
  void corruptFilesAreRejectedNamingTheFile(@TempDir Path dir) throws IOException {
    // truncated gzip stream
    writeSplit(dir, "t10k", true, new byte[] {0, 5, 9});
    Path images = dir.resolve("t10k-images-idx3-ubyte.gz");
    byte[] whole = Files.readAllBytes(images);
    Files.write(images, Arrays.copyOf(whole, whole.length / 2));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FashionMnist.load(dir, FashionMnist.Split.TEST, Integer.MAX_VALUE));
    assertTrue(e.getMessage().contains("corrupt IDX file") && e.getMessage().contains("t10k-images"), e.getMessage());

    // bad magic
    write(images, new byte[] {0, 0, 9, 3, 0, 0, 0, 1}, true);
    e = assertThrows(IllegalArgumentException.class,
        () -> FashionMnist.load(dir, FashionMnist.Split.TEST, Integer.MAX_VALUE));
    assertTrue(e.getMessage().contains("bad magic"), e.getMessage());

    // images fine, labels: count mismatch, then a label outside 0..9, then trailing bytes
    writeSplit(dir, "t10k", true, new byte[] {0, 5});
    e = assertThrows(IllegalArgumentException.class,
        () -> FashionMnist.load(dir, FashionMnist.Split.TEST, Integer.MAX_VALUE));
    assertTrue(e.getMessage().contains("2 labels for 3 images"), e.getMessage());
    writeSplit(dir, "t10k", true, new byte[] {0, 5, 10});
    e = assertThrows(IllegalArgumentException.class,
        () -> FashionMnist.load(dir, FashionMnist.Split.TEST, Integer.MAX_VALUE));
    assertTrue(e.getMessage().contains("outside 0..9"), e.getMessage());
    Path labels = dir.resolve("t10k-labels-idx1-ubyte.gz");
    byte[] extra = idx(1, new int[] {3}, new byte[] {0, 1, 2, 3});
    write(labels, extra, true);
    e = assertThrows(IllegalArgumentException.class,
        () -> FashionMnist.load(dir, FashionMnist.Split.TEST, Integer.MAX_VALUE));
    assertTrue(e.getMessage().contains("trailing bytes"), e.getMessage());
  }

  @Test
  void missingFilesNameTheDebianPackage(@TempDir Path dir) {
    UncheckedIOException e = assertThrows(UncheckedIOException.class,
        () -> FashionMnist.load(dir.resolve("nowhere"), FashionMnist.Split.TRAIN, 10));
    assertTrue(e.getMessage().contains("dataset-fashion-mnist"), e.getMessage());
    assertTrue(e.getMessage().contains("train-images-idx3-ubyte.gz"), e.getMessage());
  }

  @Test
  void splitNames() {
    assertEquals(FashionMnist.Split.TEST, FashionMnist.Split.parse("test"));
    assertEquals(FashionMnist.Split.TEST, FashionMnist.Split.parse("t10k"));
    assertEquals(FashionMnist.Split.TRAIN, FashionMnist.Split.parse("TRAIN"));
    assertThrows(IllegalArgumentException.class, () -> FashionMnist.Split.parse("val"));
  }
}
