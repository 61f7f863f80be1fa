package org.pml4j.accuracy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.LpDistance;
import org.pml4j.spec.Params;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code AccuracyCalculator}: retrieval and clustering accuracy of embeddings with labels.
 *
 * <p>Metrics (all computed unless {@code include}/{@code exclude} say otherwise), for each query with label {@code y},
 * its {@code k} nearest reference labels {@code l_1..l_k}, {@code R} = number of references labelled {@code y}
 * (minus the query itself when the reference includes the query) and {@code rel_i = [l_i == y]}:
 * <ul>
 *   <li>{@code precision_at_1} = {@code rel_1};
 *   <li>{@code r_precision} = {@code sum_{i <= min(R,k)} rel_i / min(R,k)};
 *   <li>{@code mean_average_precision_at_r} = {@code sum_{i <= min(R,k)} rel_i P@i / R};
 *   <li>{@code mean_average_precision} = {@code sum_{i <= k} rel_i P@i / R};
 *   <li>{@code mean_reciprocal_rank} = {@code 1 / (first i with rel_i)}, or 0 (computed in float32, as PML);
 *   <li>{@code NMI} and {@code AMI} of the query labels against a k-means of the query with as many clusters as query
 *       classes (scikit-learn's {@code normalized_mutual_info_score} / {@code adjusted_mutual_info_score}).
 * </ul>
 * The k-NN metrics are averaged over queries, over classes ({@code avgOfAvgs}) or returned per class
 * ({@code returnPerClass}, in ascending label order, as {@code double[]}). Queries whose label has no other reference
 * ("lone" queries) are left out of the k-NN metrics; when none is left the metrics are NaN.
 *
 * <p>As PML, every input (labels too) is cast to float32 first. Differences from PML: labels must be 1-D and are
 * compared by equality (PML's {@code label_comparison_fn} and {@code device} are not ported; inputs stay on their
 * device); {@code mean_reciprocal_rank} alone triggers the k-NN search (PML 2.8.1 forgets it in
 * {@code requires_knn()} and then fails for lack of neighbours). Defaults replacing faiss: the k-NN is
 * {@link CustomKNN} with {@code LpDistance(normalize_embeddings=False, power=2)} (faiss {@code IndexFlatL2}'s squared
 * L2) in chunks of 1024 query rows, and the k-means is {@link KMeans} with 1 run of 20 iterations, seed 1234 (faiss's
 * {@code niter=20} as PML sets it, and faiss's default seed).
 */
public final class AccuracyCalculator {
  /** Every metric, in PML's order ({@code dir()} order of the {@code calculate_*} methods). */
  public static final List<String> METRICS = List.of("AMI", "NMI", "mean_average_precision",
      "mean_average_precision_at_r", "mean_reciprocal_rank", "precision_at_1", "r_precision");

  /** The value of {@code k} that sizes the k-NN search by the largest class. */
  public static final String MAX_BIN_COUNT = "max_bin_count";

  private static final Set<String> REQUIRES_KNN = Set.of("precision_at_1", "mean_average_precision",
      "mean_average_precision_at_r", "r_precision", "mean_reciprocal_rank");
  private static final Set<String> REQUIRES_CLUSTERING = Set.of("NMI", "AMI");
  private static final System.Logger LOG = System.getLogger(AccuracyCalculator.class.getName());

  private final List<String> metrics;
  private final boolean avgOfAvgs;
  private final boolean returnPerClass;
  private final Integer k;
  private final boolean kMaxBinCount;
  private final KnnFunction knnFunc;
  private final ClusteringFunction kmeansFunc;

  /** PML's default {@code avg_of_avgs}: k-NN metrics averaged over queries. */
  public static final boolean DEFAULT_AVG_OF_AVGS = false;
  /** PML's default {@code return_per_class}: one number per metric. */
  public static final boolean DEFAULT_RETURN_PER_CLASS = false;

  /**
   * Everything computed, k-NN metrics averaged over queries, {@code k = null} (the whole reference), default k-NN
   * and k-means.
   */
  public AccuracyCalculator() {
    this(List.of(), List.of(), DEFAULT_AVG_OF_AVGS, DEFAULT_RETURN_PER_CLASS, null, null, null);
  }

  /**
   * @param include metrics to compute (empty or null: all)
   * @param exclude metrics not to compute
   * @param avgOfAvgs average the k-NN metrics per class, then over classes
   * @param returnPerClass return the per-class averages ({@code double[]}) instead of one number
   * @param k neighbours per query: null (every reference), a positive {@link Integer}, or {@link #MAX_BIN_COUNT}
   * @param knnFunc the k-NN search (null: the default {@link CustomKNN})
   * @param kmeansFunc the clustering for NMI/AMI (null: the default {@link KMeans})
   * @throws IllegalArgumentException with PML's messages: unknown metric names, {@code avgOfAvgs} together with
   *     {@code returnPerClass}, or a bad {@code k}
   */
  public AccuracyCalculator(List<String> include, List<String> exclude, boolean avgOfAvgs, boolean returnPerClass,
      Object k, KnnFunction knnFunc, ClusteringFunction kmeansFunc) {
    List<String> inc = include == null ? List.of() : List.copyOf(include);
    List<String> exc = exclude == null ? List.of() : List.copyOf(exclude);
    checkPrimaryMetrics(inc, exc);
    this.metrics = functionList(METRICS, inc, exc);
    if (avgOfAvgs && returnPerClass) {
      throw new IllegalArgumentException("avg_of_avgs and return_per_class are mutually exclusive");
    }
    this.avgOfAvgs = avgOfAvgs;
    this.returnPerClass = returnPerClass;
    if (k == null) {
      this.k = null;
      this.kMaxBinCount = false;
    } else if ((k instanceof Integer || k instanceof Long) && ((Number) k).longValue() > 0
        && ((Number) k).longValue() <= Integer.MAX_VALUE) {
      this.k = ((Number) k).intValue();
      this.kMaxBinCount = false;
    } else if (MAX_BIN_COUNT.equals(k)) {
      this.k = null;
      this.kMaxBinCount = true;
    } else {
      throw new IllegalArgumentException("k must be an integer greater than 0, or None, or 'max_bin_count'");
    }
    this.knnFunc = knnFunc != null ? knnFunc : new CustomKNN(new LpDistance(false, 2, 2), 1024);
    this.kmeansFunc = kmeansFunc != null ? kmeansFunc : new KMeans(1, 20, 1e-4, 1234L);
  }

  private static void checkPrimaryMetrics(List<String> include, List<String> exclude) {
    for (List<String> met : List.of(include, exclude)) {
      if (!METRICS.containsAll(met)) {
        throw new IllegalArgumentException("Primary metrics must be one or more of: " + pythonList(METRICS) + ".");
      }
    }
  }

  static String pythonList(List<String> names) {
    List<String> quoted = new ArrayList<>();
    for (String s : names) {
      quoted.add("'" + s + "'");
    }
    return "[" + String.join(", ", quoted) + "]";
  }

  /**
   * PML's {@code get_function_dict}: the metrics of {@code available} in {@code include} (all if empty) not excluded.
   */
  private static List<String> functionList(List<String> available, List<String> include, List<String> exclude) {
    List<String> inc = include == null || include.isEmpty() ? available : include;
    List<String> exc = exclude == null ? List.of() : exclude;
    List<String> out = new ArrayList<>();
    for (String m : available) {
      if (inc.contains(m) && !exc.contains(m)) {
        out.add(m);
      }
    }
    return Collections.unmodifiableList(out);
  }

  /** A copy using another clustering for NMI/AMI (for example fixed cluster labels). */
  public AccuracyCalculator withKmeansFunc(ClusteringFunction kmeans) {
    return new AccuracyCalculator(this, knnFunc, kmeans);
  }

  /** A copy using another k-NN search. */
  public AccuracyCalculator withKnnFunc(KnnFunction knn) {
    return new AccuracyCalculator(this, knn, kmeansFunc);
  }

  private AccuracyCalculator(AccuracyCalculator o, KnnFunction knn, ClusteringFunction kmeans) {
    this.metrics = o.metrics;
    this.avgOfAvgs = o.avgOfAvgs;
    this.returnPerClass = o.returnPerClass;
    this.k = o.k;
    this.kMaxBinCount = o.kMaxBinCount;
    this.knnFunc = knn != null ? knn : o.knnFunc;
    this.kmeansFunc = kmeans != null ? kmeans : o.kmeansFunc;
  }

  // ---------------------------------------------------------------------------------------------------- accessors

  /** The metrics this calculator computes (PML's {@code get_curr_metrics()} before any per-call filter). */
  public List<String> metrics() {
    return metrics;
  }

  public boolean avgOfAvgs() {
    return avgOfAvgs;
  }

  public boolean returnPerClass() {
    return returnPerClass;
  }

  /** {@code k}: an Integer, {@link #MAX_BIN_COUNT}, or null. */
  public Object k() {
    return kMaxBinCount ? MAX_BIN_COUNT : k;
  }

  public KnnFunction knnFunc() {
    return knnFunc;
  }

  public ClusteringFunction kmeansFunc() {
    return kmeansFunc;
  }

  /** PML's {@code description()}: "avg_of_avgs" or "". */
  public String description() {
    return avgOfAvgs ? "avg_of_avgs" : "";
  }

  // ---------------------------------------------------------------------------------------------------- evaluation

  /**
   * Everything {@link #evaluate} computed: the metrics, and the intermediate k-NN and clustering results (null when
   * no metric needed them). The tensors belong to the caller's scope.
   *
   * @param metrics metric name → {@link Double}, or {@code double[]} per class with {@code returnPerClass}
   * @param knnK the {@code k} passed to the k-NN search
   * @param knnDistances {@code [Q, k]} neighbour distances, self match removed
   * @param knnIndices {@code [Q, k]} neighbour reference rows, self match removed
   * @param clusterLabels the clustering of the query used for NMI/AMI
   */
  public record Evaluation(Map<String, Object> metrics, Long knnK, Tensor knnDistances, Tensor knnIndices,
      long[] clusterLabels) {}

  /** {@code get_accuracy(query, query_labels)}: the query is its own reference, self matches removed. */
  public Map<String, Object> getAccuracy(Tensor query, Tensor queryLabels) {
    return getAccuracy(query, queryLabels, null, null, false);
  }

  /**
   * PML's {@code get_accuracy(query, query_labels, reference, reference_labels, ref_includes_query)}.
   *
   * @param reference reference rows, or null for the query itself (then {@code refIncludesQuery} is true)
   * @param refIncludesQuery whether the first {@code len(query)} reference rows and labels are the query's
   * @return metric name → {@link Double}, or {@code double[]} per class with {@code returnPerClass}, in
   *     {@link #METRICS} order
   * @throws IllegalArgumentException with PML's messages when embeddings and labels differ in length, or
   *     {@code refIncludesQuery} is true but the reference does not start with the query
   */
  public Map<String, Object> getAccuracy(Tensor query, Tensor queryLabels, Tensor reference, Tensor referenceLabels,
      boolean refIncludesQuery) {
    return evaluate(query, queryLabels, reference, referenceLabels, refIncludesQuery, List.of(), List.of()).metrics();
  }

  /** {@code get_accuracy(..., include, exclude)}: this call computes only these metrics (unknown names ignored). */
  public Map<String, Object> getAccuracy(Tensor query, Tensor queryLabels, Tensor reference, Tensor referenceLabels,
      boolean refIncludesQuery, List<String> include, List<String> exclude) {
    return evaluate(query, queryLabels, reference, referenceLabels, refIncludesQuery, include, exclude).metrics();
  }

  /** {@link #getAccuracy} also returning the k-NN and clustering results. */
  public Evaluation evaluate(Tensor query, Tensor queryLabels, Tensor reference, Tensor referenceLabels,
      boolean refIncludesQuery, List<String> include, List<String> exclude) {
    if (reference == null) {
      reference = query;
      referenceLabels = queryLabels;
      refIncludesQuery = true;
    }
    if (query == null || queryLabels == null || referenceLabels == null) {
      throw new IllegalArgumentException("query, query_labels and reference_labels are required");
    }
    Tensor q = query.detach().to(ScalarType.Float);
    Tensor r = reference.detach().to(q.device(), ScalarType.Float);
    Tensor ql = queryLabels.detach().to(q.device(), ScalarType.Float);
    Tensor rl = referenceLabels.detach().to(q.device(), ScalarType.Float);
    if (q.dim() != 2 || r.dim() != 2) {
      throw new IllegalArgumentException("query and reference must be 2-D (rows, embedding_size), got "
          + Tensors.shapeString(q) + " and " + Tensors.shapeString(r));
    }
    if (ql.dim() != 1 || rl.dim() != 1) {
      throw new IllegalArgumentException("labels must be 1-D (pml4j compares labels by equality only), got "
          + Tensors.shapeString(ql) + " and " + Tensors.shapeString(rl));
    }
    if (Tensors.len(q) != Tensors.len(ql) || Tensors.len(r) != Tensors.len(rl)) {
      throw new IllegalArgumentException("embeddings and labels must have the same length");
    }
    long nq = Tensors.len(q);
    if (refIncludesQuery && (Tensors.len(r) < nq || q.size(1) != r.size(1)
        || !torch.allclose(q, r.narrow(0, 0, nq)) || !torch.allclose(ql, rl.narrow(0, 0, nq)))) {
      throw new IllegalArgumentException(
          "When ref_includes_query is True, the first len(query) elements of reference must be equal to query.\n"
              + "Likewise, the first len(query_labels) elements of reference_labels must be equal to query_labels.\n");
    }
    if (nq == 0) {
      throw new IllegalArgumentException("the query is empty");
    }
    List<String> current = functionList(metrics, include, exclude);

    Map<String, Object> out = new LinkedHashMap<>();
    Long knnK = null;
    KnnResult knn = null;
    long[] clusters = null;
    Neighbours nb = null;
    if (current.stream().anyMatch(REQUIRES_KNN::contains)) {
      Tensor uniqueLabels = Tensors.unique(ql)[0];
      Tensor matchCounts = uniqueLabels.unsqueeze(1).eq(rl.unsqueeze(0)).sum(new long[] {1}, false,
          new ScalarTypeOptional());
      Tensor lone = refIncludesQuery ? matchCounts.sub(Tensors.s(1L)).le(Tensors.s(0L)) : matchCounts.eq(Tensors.s(0L));
      Tensor loneLabels = Tensors.index(uniqueLabels, lone);
      Tensor notLone = Tensors.len(loneLabels) > 0
          ? ql.unsqueeze(1).eq(loneLabels.unsqueeze(0)).any(1).logical_not()
          : torch.ones(new long[] {nq}, Tensors.options(ScalarType.Bool, ql));
      long numK = determineK(matchCounts, Tensors.len(r), refIncludesQuery, current);
      knnK = numK;
      knn = knnFunc.search(q, numK, r, refIncludesQuery);
      Tensor knnLabels = Tensors.index(rl, knn.indices());
      boolean anyNotLone = notLone.any().item_bool();
      if (!anyNotLone) {
        LOG.log(System.Logger.Level.WARNING, "None of the query labels are in the reference set.");
      }
      nb = new Neighbours(uniqueLabels, matchCounts, refIncludesQuery,
          anyNotLone ? Tensors.index(knnLabels, notLone) : null, anyNotLone ? Tensors.index(ql, notLone) : null);
    }
    if (current.stream().anyMatch(REQUIRES_CLUSTERING::contains)) {
      int numClusters = (int) Tensors.len(Tensors.unique(ql)[0]);
      clusters = kmeansFunc.cluster(q, numClusters);
      if (clusters == null || clusters.length != nq) {
        throw new IllegalStateException("the clustering returned " + (clusters == null ? "nothing" : clusters.length
            + " labels") + " for " + nq + " query rows");
      }
    }
    double[] trueLabels = clusters == null ? null : Tensors.toDoubles(ql);
    for (String m : current) {
      Object v = switch (m) {
        case "AMI" -> MutualInformation.ami(trueLabels, toDoubles(clusters));
        case "NMI" -> MutualInformation.nmi(trueLabels, toDoubles(clusters));
        case "precision_at_1" -> nb.labels == null ? nan(nb) : precisionAtK(nb, 1);
        case "r_precision" -> nb.labels == null ? nan(nb) : rPrecision(nb);
        case "mean_average_precision_at_r" -> nb.labels == null ? nan(nb) : meanAveragePrecision(nb, true);
        case "mean_average_precision" -> nb.labels == null ? nan(nb) : meanAveragePrecision(nb, false);
        case "mean_reciprocal_rank" -> nb.labels == null ? nan(nb) : meanReciprocalRank(nb);
        default -> throw new IllegalStateException("unknown metric " + m);
      };
      out.put(m, v);
    }
    return new Evaluation(Collections.unmodifiableMap(out), knnK, knn == null ? null : knn.distances(),
        knn == null ? null : knn.indices(), clusters);
  }

  private static double[] toDoubles(long[] a) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }

  /** PML's {@code determine_k}. */
  private long determineK(Tensor binCounts, long numReference, boolean refIncludesQuery, List<String> current) {
    long self = refIncludesQuery ? 1 : 0;
    long maxBinCount = binCounts.max().item_long();
    if (kMaxBinCount) {
      return maxBinCount - self;
    }
    if (k == null) {
      return numReference - self;
    }
    if (k < maxBinCount) {
      Set<String> intersection = new LinkedHashSet<>();
      for (String m : List.of("r_precision", "mean_average_precision_at_r")) {
        if (current.contains(m)) {
          intersection.add(m);
        }
      }
      if (!intersection.isEmpty()) {
        LOG.log(System.Logger.Level.WARNING, "You are computing " + intersection + ", but the value for k (" + k
            + ") is less than the max bin count (" + maxBinCount + ") so the values for these metrics will be "
            + "incorrect. To fix this, set k='max_bin_count'. If you're looking for MAP@" + k + " instead of MAP@R, "
            + "then you should use 'mean_average_precision' rather than mean_average_precision_at_r");
      }
    }
    return k;
  }

  /** The k-NN state of one call: labels of the non-lone queries and of their neighbours. */
  private record Neighbours(Tensor uniqueLabels, Tensor matchCounts, boolean refIncludesQuery, Tensor knnLabels,
      Tensor labels) {}

  private Object nan(Neighbours nb) {
    if (returnPerClass) {
      double[] v = new double[(int) Tensors.len(nb.uniqueLabels)];
      java.util.Arrays.fill(v, Double.NaN);
      return v;
    }
    return Double.NaN;
  }

  /** PML's {@code maybe_get_avg_of_avgs}. */
  private Object average(Tensor perSample, Tensor sampleLabels) {
    if (avgOfAvgs || returnPerClass) {
      Tensor unique = Tensors.unique(sampleLabels)[0];
      Tensor mask = sampleLabels.unsqueeze(1).eq(unique.unsqueeze(0));
      Tensor sumPerClass = perSample.unsqueeze(1).mul(mask).sum(new long[] {0}, false, new ScalarTypeOptional());
      Tensor countPerClass = mask.sum(new long[] {0}, false, new ScalarTypeOptional());
      Tensor perClass = sumPerClass.div(countPerClass);
      if (returnPerClass) {
        return Tensors.toDoubles(perClass);
      }
      return perClass.mean().item_double();
    }
    return perSample.mean().item_double();
  }

  /** {@code [n, k]}: whether each neighbour has the query's label. */
  private static Tensor sameLabel(Neighbours nb, Tensor knnLabels) {
    return nb.labels.unsqueeze(1).eq(knnLabels);
  }

  /** {@code R} per query: references sharing its label, minus itself when the reference includes the query. */
  private static Tensor relevantCounts(Neighbours nb) {
    Tensor perLabel = nb.labels.unsqueeze(1).eq(nb.uniqueLabels.unsqueeze(0)).mul(nb.matchCounts.unsqueeze(0))
        .sum(new long[] {1}, false, new ScalarTypeOptional());
    return nb.refIncludesQuery ? perLabel.sub(Tensors.s(1L)) : perLabel;
  }

  /** PML's {@code get_relevance_mask}: {@code [n, k]}, true in the first {@code R} columns. */
  private static Tensor relevanceMask(Tensor counts, long numK) {
    return Tensors.arange(numK, counts).unsqueeze(0).lt(counts.unsqueeze(1));
  }

  private Object precisionAtK(Neighbours nb, long k) {
    Tensor knn = nb.knnLabels.narrow(1, 0, Math.min(k, nb.knnLabels.size(1)));
    Tensor same = sameLabel(nb, knn);
    Tensor perSample = same.sum(new long[] {1}, false, new ScalarTypeOptional()).to(ScalarType.Double)
        .div(Tensors.s((double) k));
    return average(perSample, nb.labels);
  }

  private Object rPrecision(Neighbours nb) {
    Tensor relevance = relevanceMask(relevantCounts(nb), nb.knnLabels.size(1));
    Tensor same = sameLabel(nb, nb.knnLabels);
    Tensor matches = same.logical_and(relevance).sum(new long[] {1}, false, new ScalarTypeOptional());
    Tensor maxPossible = relevance.sum(new long[] {1}, false, new ScalarTypeOptional());
    return average(matches.to(ScalarType.Double).div(maxPossible), nb.labels);
  }

  private Object meanAveragePrecision(Neighbours nb, boolean atR) {
    long n = nb.knnLabels.size(0);
    long numK = nb.knnLabels.size(1);
    Tensor counts = relevantCounts(nb);
    Tensor relevance = relevanceMask(counts, numK);
    Tensor knnMask = atR ? relevance : torch.ones(new long[] {n, numK}, Tensors.options(ScalarType.Bool, counts));
    Tensor equality = sameLabel(nb, nb.knnLabels).logical_and(knnMask);
    Tensor cumulative = equality.to(ScalarType.Long).cumsum(1);
    Tensor kIdx = torch.arange(Tensors.s(1L), Tensors.s(numK + 1), Tensors.options(ScalarType.Long, counts));
    Tensor precisionAtKs = cumulative.mul(equality).to(ScalarType.Double).div(kIdx.unsqueeze(0));
    Tensor summed = precisionAtKs.mul(knnMask).sum(new long[] {1}, false, new ScalarTypeOptional());
    return average(summed.div(counts), nb.labels);
  }

  private Object meanReciprocalRank(Neighbours nb) {
    Tensor same = sameLabel(nb, nb.knnLabels);
    long numK = same.size(1);
    Tensor reciprocal;
    if (numK == 0) {
      reciprocal = Tensors.zeros(ScalarType.Float, same, same.size(0));
    } else {
      Tensor found = same.any(1);
      // Descending weights make argmax pick the first relevant neighbour; ranks are float32 as in PML.
      Tensor weights = torch.arange(Tensors.s(numK), Tensors.s(0L), Tensors.s(-1L),
          Tensors.options(ScalarType.Long, same));
      Tensor rank = same.to(ScalarType.Long).mul(weights.unsqueeze(0))
          .argmax(new org.bytedeco.pytorch.LongOptional(1), false).to(ScalarType.Float).add(Tensors.s(1.0));
      reciprocal = torch.where(found, rank.reciprocal(), Tensors.zeros(rank, 1));
    }
    return average(reciprocal, nb.labels);
  }

  // ---------------------------------------------------------------------------------------------------- registry

  /**
   * Registry factory: {@code include}, {@code exclude} (lists of metric names), {@code avg_of_avgs},
   * {@code return_per_class}, {@code k} (null, a positive integer or "max_bin_count"), {@code knn_func} (a spec, e.g.
   * {@code {"class": "CustomKNN", "params": {"distance": ...}}}) and {@code kmeans_func}: a spec of a
   * {@link ClusteringFunction} such as {@code KMeans}, or scikit-learn's
   * {@code {"class": "sklearn.cluster.KMeans", "params": {"n_init": .., "random_state": ..}}}, mapped to
   * {@link KMeans}.
   */
  public static AccuracyCalculator fromSpec(Params p) {
    List<String> include = metricNames(p, "include");
    List<String> exclude = metricNames(p, "exclude");
    boolean avgOfAvgs = p.getBool("avg_of_avgs", DEFAULT_AVG_OF_AVGS);
    boolean returnPerClass = p.getBool("return_per_class", DEFAULT_RETURN_PER_CLASS);
    JsonNode kn = p.raw("k");
    Object k;
    if (kn == null || kn.isNull()) {
      k = null;
    } else if (kn.isIntegralNumber()) {
      k = kn.longValue();
    } else if (kn.isTextual()) {
      k = kn.textValue();
    } else {
      k = kn.toString();
    }
    KnnFunction knn = p.getComponent("knn_func", KnnFunction.class);
    ClusteringFunction kmeans = clusteringFromSpec(p.raw("kmeans_func"));
    return new AccuracyCalculator(include, exclude, avgOfAvgs, returnPerClass, k, knn, kmeans);
  }

  private static List<String> metricNames(Params p, String name) {
    JsonNode n = p.raw(name);
    if (n == null || n.isNull()) {
      return List.of();
    }
    if (!n.isArray()) {
      throw new IllegalArgumentException("Arguments must be of type tuple, not " + n.getNodeType() + ".");
    }
    List<String> out = new ArrayList<>();
    for (JsonNode x : n) {
      out.add(x.asText());
    }
    return out;
  }

  /**
   * The {@code kmeans_func} spec: scikit-learn's KMeans is mapped to {@link KMeans}; other classes go to the registry.
   */
  static ClusteringFunction clusteringFromSpec(JsonNode spec) {
    if (spec == null || spec.isNull()) {
      return null;
    }
    if (spec.isObject() && spec.has("class") && spec.get("class").asText().equals("sklearn.cluster.KMeans")) {
      JsonNode params = spec.get("params");
      Params kp = Params.of("sklearn.cluster.KMeans",
          params == null || params.isNull() ? null : (ObjectNode) params);
      KMeans km = KMeans.fromSpec(kp);
      kp.done();
      return km;
    }
    return Registry.build(spec, ClusteringFunction.class);
  }

  @Override
  public String toString() {
    return "AccuracyCalculator(metrics=" + metrics + ", avgOfAvgs=" + avgOfAvgs + ", returnPerClass=" + returnPerClass
        + ", k=" + k() + ", knnFunc=" + knnFunc + ", kmeansFunc=" + kmeansFunc + ")";
  }
}
