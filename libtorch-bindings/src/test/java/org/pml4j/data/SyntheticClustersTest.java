package org.pml4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SyntheticClustersTest {
  @Test
  void shapesBalanceAndDeterminism() {
    SyntheticClusters g = new SyntheticClusters(5, 16, 0.5, 7);
    LabeledDataset a = g.train(30);
    assertEquals(150, a.size());
    assertEquals(16, a.numFeatures());
    assertArrayEquals(new long[] {16}, a.sampleShape());
    assertArrayEquals(new long[] {0, 1, 2, 3, 4}, a.classes());
    int[] counts = new int[5];
    for (long l : a.labels()) {
      counts[(int) l]++;
    }
    assertArrayEquals(new int[] {30, 30, 30, 30, 30}, counts);
    LabeledDataset b = new SyntheticClusters(5, 16, 0.5, 7).train(30);
    assertArrayEquals(a.labels(), b.labels());
    for (int i = 0; i < a.size(); i++) {
      assertArrayEquals(a.features()[i], b.features()[i]);
    }
    LabeledDataset c = new SyntheticClusters(5, 16, 0.5, 8).train(30);
    assertFalse(Arrays.equals(a.features()[0], c.features()[0]), "another seed, other data");
    // shuffled: not all of class 0 first
    assertFalse(Arrays.equals(Arrays.copyOf(a.labels(), 30), new long[30]));
  }

  @Test
  void trainAndTestShareCentresButNotSamples() {
    SyntheticClusters g = new SyntheticClusters(3, 8, 0.2, 1);
    LabeledDataset train = g.train(400);
    LabeledDataset test = g.test(400);
    assertFalse(Arrays.equals(train.features()[0], test.features()[0]));
    float[][] centers = g.centers();
    for (LabeledDataset d : new LabeledDataset[] {train, test}) {
      double[][] mean = new double[3][8];
      double sq = 0;
      for (int i = 0; i < d.size(); i++) {
        int c = (int) d.labels()[i];
        for (int j = 0; j < 8; j++) {
          mean[c][j] += d.features()[i][j] / 400.0;
          double dev = d.features()[i][j] - centers[c][j];
          sq += dev * dev;
        }
      }
      for (int c = 0; c < 3; c++) {
        for (int j = 0; j < 8; j++) {
          assertEquals(centers[c][j], mean[c][j], 0.05, "class mean near its centre");
        }
      }
      double sd = Math.sqrt(sq / (d.size() * 8.0));
      assertEquals(0.2, sd, 0.01, "spread is the per-coordinate standard deviation");
    }
  }

  @Test
  void zeroSpreadGivesTheCentres() {
    SyntheticClusters g = new SyntheticClusters(2, 3, 0, 5);
    LabeledDataset d = g.test(2);
    for (int i = 0; i < d.size(); i++) {
      assertArrayEquals(g.centers()[(int) d.labels()[i]], d.features()[i]);
    }
  }

  @Test
  void badArguments() {
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(1, 3, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 0, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 3, -1, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 3, Double.NaN, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 3, 1, 0).train(0));
    assertTrue(new SyntheticClusters(2, 3, 1, 0).train(1).toString().contains("2 rows"));
  }

  @Test
  void datasetChecksAndViews() {
    LabeledDataset d = new SyntheticClusters(4, 2, 1, 3).train(5);
    assertEquals(3, d.head(3).size());
    assertEquals(d, d.head(100));
    LabeledDataset s = d.select(new int[] {4, 0});
    assertEquals(d.labels()[4], s.labels()[0]);
    assertThrows(IllegalArgumentException.class,
        () -> new LabeledDataset("x", new float[][] {{1, 2}}, new long[] {0, 1}, new long[] {2}));
    assertThrows(IllegalArgumentException.class,
        () -> new LabeledDataset("x", new float[][] {{1, 2, 3}}, new long[] {0}, new long[] {2}));
  }
}
