package org.pml4j.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.accuracy.AccuracyCalculator;
import org.pml4j.accuracy.ClusteringFunction;
import org.pml4j.torch.Tensors;

/**
 * Runs a {@code kind = accuracy} case: {@code AccuracyCalculator.get_accuracy} on the case's inputs (float32 only:
 * PML casts everything to float32, so these cases have no float64 variant).
 *
 * <p>Compared: every metric (scalar or per-class list), the number of neighbours asked of the k-NN, the neighbour
 * indices (exactly) and distances (float32 tolerance). NMI and AMI depend on the clustering, so they are computed from
 * the case's {@code expected.cluster_labels} (scikit-learn's KMeans output) instead of pml4j's own k-means; the
 * {@code well_separated_clusters} variant then also checks that pml4j's {@code KMeans} reaches NMI = AMI = 1.
 */
final class AccuracyCases {
  /** Metrics come from discrete neighbour labels and are float64 (MRR float32) in PML: tight tolerances. */
  private static final Compare METRICS = Compare.FLOAT64;
  /** Distances are float32 k-NN output. */
  private static final Compare DISTANCES = Compare.FLOAT32;

  private AccuracyCases() {}

  static void run(JsonNode c) {
    AccuracyCalculator calc = (AccuracyCalculator) CaseRunner.build(c);
    JsonNode in = c.get("inputs");
    JsonNode e = c.get("expected");
    Tensor query = CaseRunner.floats(in.get("query"), ScalarType.Float, false);
    Tensor queryLabels = CaseRunner.longs(in.get("query_labels"));
    Tensor reference = CaseRunner.floats(in.get("reference"), ScalarType.Float, false);
    Tensor referenceLabels = CaseRunner.longs(in.get("reference_labels"));
    boolean refIncludesQuery = in.path("ref_includes_query").asBoolean(false);

    AccuracyCalculator withExpectedClusters = calc;
    JsonNode cl = e.get("cluster_labels");
    if (cl != null && !cl.isNull()) {
      long[] clusters = new long[cl.size()];
      for (int i = 0; i < clusters.length; i++) {
        clusters[i] = cl.get(i).asLong();
      }
      withExpectedClusters = calc.withKmeansFunc(fixed(clusters));
    }
    AccuracyCalculator.Evaluation ev = withExpectedClusters.evaluate(query, queryLabels, reference, referenceLabels,
        refIncludesQuery, List.of(), List.of());

    compareMetrics(e.get("metrics"), ev.metrics());
    if (e.has("knn_k_requested") && !e.get("knn_k_requested").isNull()) {
      long want = e.get("knn_k_requested").asLong();
      if (ev.knnK() == null || ev.knnK() != want) {
        throw new Mismatch("knn_k_requested: expected " + want + ", got " + ev.knnK());
      }
    }
    if (e.has("knn_indices") && !e.get("knn_indices").isNull()) {
      if (ev.knnIndices() == null) {
        throw new Mismatch("knn_indices: no k-NN search was run");
      }
      compareIndices(e.get("knn_indices"), ev.knnIndices());
    }
    if (e.has("knn_distances") && !e.get("knn_distances").isNull()) {
      DISTANCES.array("knn_distances", e.get("knn_distances"), Tensors.toDoubles(ev.knnDistances()));
    }
    if ("well_separated_clusters".equals(c.path("variant").asText())) {
      checkOwnKmeans(calc, query, queryLabels, reference, referenceLabels, refIncludesQuery);
    }
  }

  /** A clustering returning the recorded labels (checks that the calculator asked for one label per query row). */
  private static ClusteringFunction fixed(long[] clusters) {
    return (x, numClusters) -> {
      if (x.size(0) != clusters.length) {
        throw new Mismatch("cluster_labels: the calculator clustered " + x.size(0) + " rows, the case has "
            + clusters.length);
      }
      return clusters.clone();
    };
  }

  private static void compareMetrics(JsonNode expected, Map<String, Object> got) {
    if (expected.size() != got.size()) {
      throw new Mismatch("metrics: expected " + names(expected) + ", got " + got.keySet());
    }
    Iterator<Map.Entry<String, JsonNode>> it = expected.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> en = it.next();
      String name = "metrics." + en.getKey();
      Object v = got.get(en.getKey());
      if (v == null) {
        throw new Mismatch(name + ": not computed (got " + got.keySet() + ")");
      }
      JsonNode ev = en.getValue();
      if (ev.isArray()) {
        if (!(v instanceof double[] arr)) {
          throw new Mismatch(name + ": expected a per-class list, got " + v);
        }
        METRICS.array(name, ev, arr);
      } else {
        if (!(v instanceof Double d)) {
          throw new Mismatch(name + ": expected a number, got a " + v.getClass().getSimpleName());
        }
        METRICS.scalar(name, ev, d);
      }
    }
  }

  private static String names(JsonNode obj) {
    StringBuilder sb = new StringBuilder("[");
    obj.fieldNames().forEachRemaining(n -> sb.append(sb.length() > 1 ? ", " : "").append(n));
    return sb.append("]").toString();
  }

  private static void compareIndices(JsonNode expected, Tensor got) {
    double[] e = Compare.flat(expected);
    long[] g = Tensors.toLongs(got);
    if (e.length != g.length) {
      throw new Mismatch("knn_indices: expected " + e.length + " values, got " + g.length);
    }
    int cols = expected.size() > 0 ? expected.get(0).size() : 0;
    for (int i = 0; i < e.length; i++) {
      if ((long) e[i] != g[i]) {
        throw new Mismatch("knn_indices[" + (i / Math.max(cols, 1)) + "][" + (i % Math.max(cols, 1)) + "]: expected "
            + (long) e[i] + ", got " + g[i]);
      }
    }
  }

  /** pml4j's own k-means (as the case's kmeans_func configures it) must find the well-separated classes. */
  private static void checkOwnKmeans(AccuracyCalculator calc, Tensor query, Tensor queryLabels, Tensor reference,
      Tensor referenceLabels, boolean refIncludesQuery) {
    Map<String, Object> m = calc.getAccuracy(query, queryLabels, reference, referenceLabels, refIncludesQuery,
        List.of("NMI", "AMI"), List.of());
    for (String name : List.of("NMI", "AMI")) {
      Object v = m.get(name);
      if (!(v instanceof Double d) || Math.abs(d - 1.0) > 1e-9) {
        throw new Mismatch("own k-means on well-separated clusters: " + name + " expected 1, got " + v);
      }
    }
  }
}
