package org.pml4j.accuracy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.distances.LpDistance;
import org.pml4j.spec.Registry;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

class AccuracyCalculatorTest {
  private static final double TOL = 1e-9;
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  /**
   * Five points on a line, x = 0, 1, 10, 11, 12.5 with labels 0, 0, 1, 1, 0; each is its own query and reference.
   * Neighbours (self removed): q0: 1,2,3,4 rel 1,0,0,1 (R=2); q1: 0,2,3,4 rel 1,0,0,1 (R=2); q2: 3,4,1,0 rel 1,0,0,0
   * (R=1); q3: 2,4,1,0 rel 1,0,0,0 (R=1); q4: 3,2,1,0 rel 0,0,1,1 (R=2).
   */
  private static Tensor line() {
    return Tensors.of(new double[][] {{0}, {1}, {10}, {11}, {12.5}}, ScalarType.Double);
  }

  private static Tensor lineLabels() {
    return Tensors.longs(0, 0, 1, 1, 0);
  }

  private static AccuracyCalculator calc(boolean avg, boolean perClass, Object k) {
    return new AccuracyCalculator(List.of(), List.of("NMI", "AMI"), avg, perClass, k,
        new CustomKNN(new LpDistance(false, 2, 1)), null);
  }

  @Test
  void metricsByHand() {
    Map<String, Object> m = calc(false, false, null).getAccuracy(line(), lineLabels());
    assertEquals(List.of("mean_average_precision", "mean_average_precision_at_r", "mean_reciprocal_rank",
        "precision_at_1", "r_precision"), List.copyOf(m.keySet()));
    assertEquals(0.8, (Double) m.get("precision_at_1"), TOL);
    // r_precision: 1/2, 1/2, 1, 1, 0.
    assertEquals(0.6, (Double) m.get("r_precision"), TOL);
    assertEquals(0.6, (Double) m.get("mean_average_precision_at_r"), TOL);
    // MAP: (1 + 2/4)/2 twice, 1, 1, (1/3 + 2/4)/2.
    assertEquals((0.75 + 0.75 + 1 + 1 + (1.0 / 3 + 0.5) / 2) / 5, (Double) m.get("mean_average_precision"), TOL);
    // MRR in float32, as PML.
    assertEquals((4 + 1.0 / 3) / 5, (Double) m.get("mean_reciprocal_rank"), 1e-6);
  }

  @Test
  void classAveragesAndPerClass() {
    Map<String, Object> avg = calc(true, false, null).getAccuracy(line(), lineLabels());
    assertEquals((2.0 / 3 + 1) / 2, (Double) avg.get("precision_at_1"), TOL);
    Map<String, Object> per = calc(false, true, null).getAccuracy(line(), lineLabels());
    assertArrayEquals(new double[] {2.0 / 3, 1}, (double[]) per.get("precision_at_1"), TOL);
    double map0 = (0.75 + 0.75 + (1.0 / 3 + 0.5) / 2) / 3;
    assertArrayEquals(new double[] {map0, 1}, (double[]) per.get("mean_average_precision"), TOL);
  }

  @Test
  void kLimitsTheNeighbours() {
    AccuracyCalculator.Evaluation one = calc(false, false, 1).evaluate(line(), lineLabels(), null, null, false,
        List.of("mean_average_precision"), List.of());
    assertEquals(1L, one.knnK());
    assertArrayEquals(new long[] {1, 0, 3, 2, 3}, Tensors.toLongs(one.knnIndices()));
    // MAP@1 normalised by R: 1/2, 1/2, 1, 1, 0.
    assertEquals(0.6, (Double) one.metrics().get("mean_average_precision"), TOL);
    // max_bin_count: the largest class (3) minus the query itself.
    AccuracyCalculator.Evaluation bins = calc(false, false, "max_bin_count").evaluate(line(), lineLabels(), null, null,
        false, List.of(), List.of());
    assertEquals(2L, bins.knnK());
  }

  @Test
  void loneQueriesAreLeftOut() {
    Tensor query = Tensors.of(new double[][] {{0}, {1}, {10}}, ScalarType.Double);
    Tensor ref = Tensors.of(new double[][] {{0.2}, {9}, {11}}, ScalarType.Double);
    // Label 5 has no reference: only the first two queries count.
    Map<String, Object> m = calc(false, false, null).getAccuracy(query, Tensors.longs(0, 0, 5), ref,
        Tensors.longs(0, 1, 1), false);
    assertEquals(1.0, (Double) m.get("precision_at_1"), TOL);
    // No query label in the reference: NaN, or a NaN per query class.
    Map<String, Object> none = calc(false, false, null).getAccuracy(query, Tensors.longs(7, 7, 5), ref,
        Tensors.longs(0, 1, 1), false);
    assertTrue(Double.isNaN((Double) none.get("r_precision")));
    Map<String, Object> nonePer = calc(false, true, null).getAccuracy(query, Tensors.longs(7, 7, 5), ref,
        Tensors.longs(0, 1, 1), false);
    double[] v = (double[]) nonePer.get("r_precision");
    assertEquals(2, v.length);
    assertTrue(Double.isNaN(v[0]) && Double.isNaN(v[1]));
  }

  @Test
  void meanReciprocalRankAloneRunsTheKnn() {
    AccuracyCalculator c = new AccuracyCalculator(List.of("mean_reciprocal_rank"), List.of(), false, false, null,
        new CustomKNN(new CosineSimilarity()), null);
    Map<String, Object> m = c.getAccuracy(Tensors.of(new double[][] {{1, 0}, {0.9, 0.1}, {0, 1}, {0.1, 0.9}},
        ScalarType.Float), Tensors.longs(0, 0, 1, 1));
    assertEquals(Map.of("mean_reciprocal_rank", 1.0), m);
  }

  @Test
  void clusteringMetricsUseTheClusteringFunction() {
    AccuracyCalculator c = new AccuracyCalculator(List.of("NMI", "AMI"), List.of(), false, false, null, null,
        (x, n) -> {
          assertEquals(2, n);
          return new long[] {0, 0, 1, 1, 2, 2};
        });
    Tensor q = Tensors.of(new double[][] {{0}, {1}, {2}, {3}, {4}, {5}}, ScalarType.Float);
    Map<String, Object> m = c.getAccuracy(q, Tensors.longs(0, 0, 0, 1, 1, 1));
    assertEquals(List.of("AMI", "NMI"), List.copyOf(m.keySet()));
    assertEquals(0.5158037429793888, (Double) m.get("NMI"), 1e-12);
    assertEquals(0.29879245817089006, (Double) m.get("AMI"), 1e-12);
    // The default calculator (own k-NN and k-means) on two obvious groups.
    Map<String, Object> d = new AccuracyCalculator().getAccuracy(
        Tensors.of(new double[][] {{0, 0}, {0.1, 0}, {0, 0.1}, {9, 9}, {9.1, 9}, {9, 9.1}}, ScalarType.Float),
        Tensors.longs(3, 3, 3, 8, 8, 8));
    assertEquals(7, d.size());
    assertEquals(1.0, (Double) d.get("NMI"), 1e-12);
    assertEquals(1.0, (Double) d.get("AMI"), 1e-12);
    assertEquals(1.0, (Double) d.get("mean_average_precision_at_r"), 1e-12);
  }

  @Test
  void chunkedKnnEqualsTheWholeMatrix() {
    org.bytedeco.pytorch.global.torch.manual_seed(3);
    Tensor q = org.bytedeco.pytorch.global.torch.randn(37, 6);
    KnnResult whole = new CustomKNN(new LpDistance(false, 2, 1)).search(q, 9, q, true);
    KnnResult chunked = new CustomKNN(new LpDistance(false, 2, 1), 5).search(q, 9, q, true);
    assertArrayEquals(Tensors.toLongs(whole.indices()), Tensors.toLongs(chunked.indices()));
    assertArrayEquals(Tensors.toDoubles(whole.distances()), Tensors.toDoubles(chunked.distances()), 1e-5);
    assertEquals(9, whole.indices().size(1));
    long[] idx = Tensors.toLongs(whole.indices());
    for (int i = 0; i < 37; i++) {
      for (int j = 0; j < 9; j++) {
        assertTrue(idx[i * 9 + j] != i, "self match left in row " + i);
      }
    }
    String m = assertThrows(IllegalArgumentException.class,
        () -> new CustomKNN(new LpDistance()).search(q, 37, q, true)).getMessage();
    assertTrue(m.contains("only 37 rows"), m);
  }

  // ------------------------------------------------------------------------------------------ PML's errors

  private static String error(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void avgOfAvgsAndReturnPerClassAreExclusive() {
    assertEquals("avg_of_avgs and return_per_class are mutually exclusive", error(() -> calc(true, true, null)));
  }

  @Test
  void badK() {
    String msg = "k must be an integer greater than 0, or None, or 'max_bin_count'";
    assertEquals(msg, error(() -> calc(false, false, 0)));
    assertEquals(msg, error(() -> calc(false, false, -3)));
    assertEquals(msg, error(() -> calc(false, false, "max")));
    assertEquals(msg, error(() -> calc(false, false, 2.5)));
    SpecException e = assertThrows(SpecException.class, () -> Registry.build(
        "{\"class\": \"AccuracyCalculator\", \"params\": {\"k\": 1.5}}"));
    assertTrue(e.getMessage().contains(msg), e.getMessage());
  }

  @Test
  void unknownMetricNames() {
    String msg = "Primary metrics must be one or more of: ['AMI', 'NMI', 'mean_average_precision', "
        + "'mean_average_precision_at_r', 'mean_reciprocal_rank', 'precision_at_1', 'r_precision'].";
    assertEquals(msg, error(() -> new AccuracyCalculator(List.of("precision_at_5"), List.of(), false, false, null,
        null, null)));
    assertEquals(msg, error(() -> new AccuracyCalculator(List.of(), List.of("nmi"), false, false, null, null, null)));
    SpecException e = assertThrows(SpecException.class, () -> Registry.build(
        "{\"class\": \"AccuracyCalculator\", \"params\": {\"include\": \"NMI\"}}"));
    assertTrue(e.getMessage().contains("Arguments must be of type tuple"), e.getMessage());
  }

  @Test
  void inputErrors() {
    AccuracyCalculator c = calc(false, false, null);
    assertEquals("embeddings and labels must have the same length",
        error(() -> c.getAccuracy(line(), Tensors.longs(0, 1))));
    String m = error(() -> c.getAccuracy(line(), lineLabels(), line().add(org.pml4j.torch.Tensors.s(1.0)),
        lineLabels(), true));
    assertTrue(m.startsWith("When ref_includes_query is True, the first len(query) elements of reference must be "
        + "equal to query."), m);
  }

  @Test
  void fromSpecReadsTheCaseParams() {
    AccuracyCalculator c = Registry.build("{\"class\": \"AccuracyCalculator\", \"params\": {\"include\": [], "
        + "\"exclude\": [\"AMI\"], \"avg_of_avgs\": false, \"return_per_class\": true, \"k\": \"max_bin_count\", "
        + "\"knn_func\": {\"class\": \"CustomKNN\", \"params\": {\"distance\": {\"class\": \"LpDistance\", "
        + "\"params\": {\"normalize_embeddings\": false}}, \"batch_size\": 64}}, "
        + "\"kmeans_func\": {\"class\": \"sklearn.cluster.KMeans\", \"params\": {\"n_init\": 10, "
        + "\"random_state\": 2394}}}}", AccuracyCalculator.class);
    assertEquals(List.of("NMI", "mean_average_precision", "mean_average_precision_at_r", "mean_reciprocal_rank",
        "precision_at_1", "r_precision"), c.metrics());
    assertEquals("max_bin_count", c.k());
    assertTrue(c.returnPerClass());
    assertEquals(64, ((CustomKNN) c.knnFunc()).batchSize());
    assertEquals(2394L, ((KMeans) c.kmeansFunc()).seed());
    assertThrows(SpecException.class, () -> Registry.build("{\"class\": \"AccuracyCalculator\", \"params\": "
        + "{\"kmeans_func\": {\"class\": \"sklearn.cluster.KMeans\", \"params\": {\"verbose\": 1}}}}"));
  }
}
