package org.pml4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SyntheticClustersTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void rowsDependOnlyOnSeedAndId() {
    SyntheticClusters g = new SyntheticClusters(5, 16, 0.5, 1.0, 7);
    DataSource train = g.source(DataSource.Split.TRAIN);
    LabeledDataset a = train.load(150);
    assertEquals("synthetic/train", a.name());
    assertEquals(150, a.size());
    assertEquals(16, a.numFeatures());
    assertArrayEquals(new long[] {16}, a.sampleShape());
    assertArrayEquals(new long[] {0, 1, 2, 3, 4}, a.classes());
    // any order, any instance: the same row
    DataSource.Row r = new SyntheticClusters(5, 16, 0.5, 1.0, 7).source(0).row(42);
    assertArrayEquals(a.features()[42], r.features());
    assertEquals(a.labels()[42], r.label());
    assertArrayEquals(g.row(142).features(), g.source(100).row(42).features());
    DataSource.Row other = new SyntheticClusters(5, 16, 0.5, 1.0, 8).row(0);
    assertFalse(Arrays.equals(a.features()[0], other.features()), "another seed, other data");
    assertEquals(DataSource.UNBOUNDED, train.size());
    assertThrows(IllegalArgumentException.class, () -> train.load(Integer.MAX_VALUE));
    assertThrows(IndexOutOfBoundsException.class, () -> train.row(-1));
  }

  @Test
  void trainAndTestShareCentresButNotSamples() {
    SyntheticClusters g = new SyntheticClusters(3, 8, 0.2, 1.0, 1);
    LabeledDataset train = g.source(DataSource.Split.TRAIN).load(1200);
    LabeledDataset test = g.source(DataSource.Split.TEST).load(1200);
    assertEquals("synthetic/test", test.name());
    assertFalse(Arrays.equals(train.features()[0], test.features()[0]));
    float[][] centers = g.centers();
    for (LabeledDataset d : new LabeledDataset[] {train, test}) {
      double[][] sum = new double[3][8];
      int[] count = new int[3];
      double sq = 0;
      for (int i = 0; i < d.size(); i++) {
        int c = (int) d.labels()[i];
        count[c]++;
        for (int j = 0; j < 8; j++) {
          sum[c][j] += d.features()[i][j];
          double dev = d.features()[i][j] - centers[c][j];
          sq += dev * dev;
        }
      }
      for (int c = 0; c < 3; c++) {
        assertTrue(count[c] > 300 && count[c] < 500, "labels are uniform: class " + c + " has " + count[c]);
        for (int j = 0; j < 8; j++) {
          assertEquals(centers[c][j], sum[c][j] / count[c], 0.05, "class mean near its centre");
        }
      }
      double sd = Math.sqrt(sq / (d.size() * 8.0));
      assertEquals(0.2, sd, 0.01, "noise is the per-coordinate standard deviation");
    }
  }

  @Test
  void zeroNoiseGivesTheCentresAndCenterScaleScalesThem() {
    SyntheticClusters g = new SyntheticClusters(2, 3, 0, 1.0, 5);
    for (long id = 0; id < 10; id++) {
      DataSource.Row r = g.row(id);
      assertArrayEquals(g.centers()[(int) r.label()], r.features());
    }
    float[][] wide = new SyntheticClusters(2, 3, 0, 2.0, 5).centers();
    for (int c = 0; c < 2; c++) {
      for (int j = 0; j < 3; j++) {
        assertEquals(2 * g.centers()[c][j], wide[c][j], 1e-6);
      }
    }
  }

  @Test
  void badArguments() {
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(0, 3, 1, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 0, 1, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 3, -1, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 3, Double.NaN, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticClusters(2, 3, 1, Double.POSITIVE_INFINITY, 0));
    assertThrows(IllegalArgumentException.class,
        () -> new SyntheticClusters(2, 3, 1, 1, 0).source(DataSource.Split.TRAIN).load(-1));
    assertTrue(new SyntheticClusters(2, 3, 1, 1, 0).source(0).load(2).toString().contains("2 rows"));
  }

  @Test
  void theRegistryOpensItWithDefaultsAndRejectsUnknownOptions() throws Exception {
    assertTrue(DataSources.names().containsAll(java.util.List.of("fashion-mnist", "synthetic")));
    DataSource d = DataSources.open("synthetic", DataSource.Split.TEST, null);
    assertArrayEquals(new long[] {SyntheticClusters.DEFAULT_DIMENSION}, d.sampleShape());
    SyntheticClusters same = new SyntheticClusters(SyntheticClusters.DEFAULT_CLASSES,
        SyntheticClusters.DEFAULT_DIMENSION, SyntheticClusters.DEFAULT_NOISE, SyntheticClusters.DEFAULT_CENTER_SCALE,
        SyntheticClusters.DEFAULT_SEED);
    assertArrayEquals(same.row(SyntheticClusters.TEST_ID_OFFSET + 3).features(), d.row(3).features());
    ObjectNode o = (ObjectNode) JSON.readTree("{\"classes\": 3, \"dimension\": 4, \"noise\": 0, \"seed\": 9}");
    DataSource small = DataSources.open("synthetic", DataSource.Split.TRAIN, o);
    assertArrayEquals(new SyntheticClusters(3, 4, 0, 1, 9).row(5).features(), small.row(5).features());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DataSources.open("synthetic", DataSource.Split.TRAIN, JSON.readTree("{\"nosie\": 1}")));
    assertTrue(e.getMessage().contains("nosie"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> DataSources.open("synthetic", DataSource.Split.TRAIN, JSON.readTree("{\"seed\": 1.5}")));
    assertTrue(e.getMessage().contains("seed"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> DataSources.open("mnist", DataSource.Split.TRAIN, null));
    assertTrue(e.getMessage().contains("csv, fashion-mnist, jsonl, synthetic"), e.getMessage());
    // serializable (Flink ships sources to task managers): the copy gives the same rows
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(small);
    }
    DataSource copy;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      copy = (DataSource) in.readObject();
    }
    assertArrayEquals(small.row(7).features(), copy.row(7).features());
  }

  @Test
  void datasetChecksAndViews() {
    LabeledDataset d = new SyntheticClusters(4, 2, 1, 1, 3).source(0).load(20);
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
