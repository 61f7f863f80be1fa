package org.pml4j.accuracy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.pml4j.spec.Params;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

class KMeansTest {
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  /** {@code perClass} Gaussian points around each of {@code centers} (spread {@code sigma}), float32. */
  private static Tensor blobs(double[][] centers, int perClass, double sigma, long seed, long[] labelsOut) {
    Random r = new Random(seed);
    int d = centers[0].length;
    double[][] x = new double[centers.length * perClass][d];
    for (int c = 0; c < centers.length; c++) {
      for (int i = 0; i < perClass; i++) {
        int row = c * perClass + i;
        for (int j = 0; j < d; j++) {
          x[row][j] = centers[c][j] + sigma * r.nextGaussian();
        }
        if (labelsOut != null) {
          labelsOut[row] = c;
        }
      }
    }
    return Tensors.of(x, ScalarType.Float);
  }

  private static Tensor noise(int n, int d, long seed) {
    Random r = new Random(seed);
    double[][] x = new double[n][d];
    for (double[] row : x) {
      for (int j = 0; j < d; j++) {
        row[j] = r.nextGaussian();
      }
    }
    return Tensors.of(x, ScalarType.Float);
  }

  @Test
  void sameSeedSameClustering() {
    Tensor x = noise(200, 5, 3);
    KMeans.Fit a = new KMeans(4, 300, 1e-4, 42L).fit(x, 6);
    KMeans.Fit b = new KMeans(4, 300, 1e-4, 42L).fit(x, 6);
    assertArrayEquals(a.labels(), b.labels());
    assertEquals(a.inertia(), b.inertia(), 0.0);
    for (int i = 0; i < a.centers().length; i++) {
      assertArrayEquals(a.centers()[i], b.centers()[i], 0.0);
    }
    // The same instance is deterministic across calls too.
    KMeans km = new KMeans(3, 50, 1e-4, 7L);
    assertArrayEquals(km.cluster(x, 5), km.cluster(x, 5));
  }

  @Test
  void moreRestartsNeverIncreaseTheInertia() {
    Tensor x = noise(150, 3, 11);
    double one = new KMeans(1, 300, 1e-4, 5L).fit(x, 8).inertia();
    double ten = new KMeans(10, 300, 1e-4, 5L).fit(x, 8).inertia();
    assertTrue(ten <= one, ten + " > " + one);
  }

  @Test
  void findsWellSeparatedClusters() {
    double[][] centers = {{0, 0, 0}, {20, 0, 0}, {0, 20, 0}, {0, 0, 20}, {20, 20, 20}};
    long[] truth = new long[centers.length * 12];
    Tensor x = blobs(centers, 12, 0.5, 1, truth);
    for (long seed = 0; seed < 5; seed++) {
      KMeans.Fit f = new KMeans(10, 300, 1e-4, seed).fit(x, centers.length);
      assertEquals(1.0, MutualInformation.nmi(truth, f.labels()), 1e-12);
      assertEquals(1.0, MutualInformation.ami(truth, f.labels()), 1e-12);
      // Each centre lands near a true centre, and every label is used.
      assertEquals(centers.length, java.util.Arrays.stream(f.labels()).distinct().count());
    }
  }

  @Test
  void labelsAreTheNearestCentres() {
    Tensor x = noise(80, 4, 2);
    KMeans.Fit f = new KMeans(2, 300, 1e-4, 9L).fit(x, 4);
    double[][] pts = Tensors.toDoubles2d(x);
    for (int i = 0; i < pts.length; i++) {
      int best = -1;
      double bestD = Double.POSITIVE_INFINITY;
      for (int c = 0; c < f.centers().length; c++) {
        double s = 0;
        for (int j = 0; j < pts[i].length; j++) {
          double diff = pts[i][j] - f.centers()[c][j];
          s += diff * diff;
        }
        if (s < bestD) {
          bestD = s;
          best = c;
        }
      }
      assertEquals(best, f.labels()[i], "row " + i);
    }
  }

  @Test
  void duplicatePointsAndOneClusterPerPoint() {
    Tensor x = Tensors.of(new double[][] {{1, 1}, {1, 1}, {1, 1}, {5, 5}}, ScalarType.Float);
    long[] labels = new KMeans(3, 100, 1e-4, 0L).cluster(x, 3);
    assertEquals(4, labels.length);
    long[] one = new KMeans(1, 100, 1e-4, 0L).cluster(noise(5, 2, 1), 5);
    assertEquals(5, java.util.Arrays.stream(one).distinct().count());
  }

  @Test
  void badArguments() {
    Tensor x = noise(3, 2, 1);
    String m = assertThrows(IllegalArgumentException.class, () -> new KMeans().cluster(x, 4)).getMessage();
    assertEquals("n_samples=3 should be >= n_clusters=4.", m);
    assertThrows(IllegalArgumentException.class, () -> new KMeans().cluster(x, 0));
    assertThrows(IllegalArgumentException.class, () -> new KMeans(0, 10, 1e-4, 1L));
    assertThrows(IllegalArgumentException.class, () -> new KMeans(1, 0, 1e-4, 1L));
  }

  @Test
  void sklearnSpecMapping() throws Exception {
    ObjectMapper json = new ObjectMapper();
    KMeans km = KMeans.fromSpec(Params.of("sklearn.cluster.KMeans",
        (ObjectNode) json.readTree("{\"n_init\": 10, \"random_state\": 2394}")));
    assertEquals(10, km.nInit());
    assertEquals(2394L, km.seed());
    KMeans auto = KMeans.fromSpec(Params.of("KMeans", (ObjectNode) json.readTree("{\"n_init\": \"auto\"}")));
    assertEquals(1, auto.nInit());
    assertNull(auto.seed());
    assertThrows(IllegalArgumentException.class, () -> KMeans.fromSpec(
        Params.of("KMeans", (ObjectNode) json.readTree("{\"init\": \"random\"}"))));
  }
}
