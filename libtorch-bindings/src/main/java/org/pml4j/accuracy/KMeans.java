package org.pml4j.accuracy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * k-means clustering on LibTorch (float64, on the device of the input): Lloyd's iterations from a greedy k-means++
 * initialisation, restarted {@code nInit} times, keeping the run of lowest inertia — the algorithm of scikit-learn's
 * {@code KMeans(init="k-means++", algorithm="lloyd")}, used by {@link AccuracyCalculator} for NMI and AMI in place of
 * faiss or scikit-learn.
 *
 * <p>Details follow scikit-learn: the data are centred first; k-means++ draws {@code 2 + floor(ln k)} candidates per
 * new centre in proportion to the squared distance to the closest chosen centre and keeps the one that lowers the
 * potential most; an iteration stops the run when the labels do not change or when the squared centre shift falls to
 * {@code tol} times the mean per-feature variance; a cluster left empty takes the point farthest from its centre.
 *
 * <p>The random draws come from a {@link SplittableRandom} seeded with {@code seed}, so a seeded k-means is
 * deterministic (on CPU; CUDA's atomic sums may differ in the last bits). The draws are not scikit-learn's Mersenne
 * Twister, so the clusters equal scikit-learn's only when the clustering is unambiguous.
 */
public final class KMeans implements ClusteringFunction {
  private final int nInit;
  private final int maxIter;
  private final double tol;
  private final Long seed;

  /** One clustering: labels, centres (in the input's coordinates), inertia and iterations of the best run. */
  public record Fit(long[] labels, double[][] centers, double inertia, int iterations) {}

  /** scikit-learn's default {@code n_init}: restarts. */
  public static final int DEFAULT_N_INIT = 10;
  /** scikit-learn's default {@code max_iter}: Lloyd iterations per restart. */
  public static final int DEFAULT_MAX_ITER = 300;
  /** scikit-learn's default {@code tol}. */
  public static final double DEFAULT_TOL = 1e-4;
  /**
   * The seed of {@link #KMeans()}, so that the default clustering is deterministic. A spec without
   * {@code random_state} is unseeded, as scikit-learn's default ({@code None}).
   */
  public static final long DEFAULT_SEED = 0L;

  /**
   * scikit-learn's defaults: {@link #DEFAULT_N_INIT}, {@link #DEFAULT_MAX_ITER}, {@link #DEFAULT_TOL}; seeded with
   * {@link #DEFAULT_SEED}.
   */
  public KMeans() {
    this(DEFAULT_N_INIT, DEFAULT_MAX_ITER, DEFAULT_TOL, DEFAULT_SEED);
  }

  /**
   * @param nInit restarts (the best of them is kept)
   * @param maxIter Lloyd iterations per restart
   * @param tol relative tolerance on the squared centre shift
   * @param seed random seed, or null for a fresh random one on every call
   */
  public KMeans(int nInit, int maxIter, double tol, Long seed) {
    if (nInit < 1) {
      throw new IllegalArgumentException("n_init should be > 0, got " + nInit);
    }
    if (maxIter < 1) {
      throw new IllegalArgumentException("max_iter should be > 0, got " + maxIter);
    }
    if (!(tol >= 0)) {
      throw new IllegalArgumentException("tol should be >= 0, got " + tol);
    }
    this.nInit = nInit;
    this.maxIter = maxIter;
    this.tol = tol;
    this.seed = seed;
  }

  @Override
  public long[] cluster(Tensor x, int numClusters) {
    return fit(x, numClusters).labels();
  }

  /**
   * Clusters the rows of {@code x}.
   *
   * @throws IllegalArgumentException if {@code x} is not 2-D, {@code numClusters < 1} or there are fewer rows than
   *     clusters
   */
  public Fit fit(Tensor x, int numClusters) {
    if (x.dim() != 2) {
      throw new IllegalArgumentException("k-means needs a 2-D input, got shape " + Tensors.shapeString(x));
    }
    long n = x.size(0);
    if (numClusters < 1) {
      throw new IllegalArgumentException("n_clusters should be > 0, got " + numClusters);
    }
    if (n < numClusters) {
      throw new IllegalArgumentException("n_samples=" + n + " should be >= n_clusters=" + numClusters + ".");
    }
    SplittableRandom rng = seed == null ? new SplittableRandom() : new SplittableRandom(seed);
    try (Scope scope = Scope.open()) {
      Tensor raw = x.detach().to(ScalarType.Double);
      Tensor mean = raw.mean(new long[] {0}, true, new ScalarTypeOptional());
      Tensor data = raw.sub(mean).contiguous();
      Tensor sqNorms = data.mul(data).sum(new long[] {1}, false, new ScalarTypeOptional());
      double tolAbs = tol == 0 || n < 2 ? 0 : tol * data.var(new long[] {0}, false, false).mean().item_double();
      Tensor bestCenters = null;
      long[] bestLabels = null;
      double bestInertia = Double.POSITIVE_INFINITY;
      int bestIter = 0;
      for (int run = 0; run < nInit; run++) {
        Tensor centers = kmeansPlusPlus(data, sqNorms, numClusters, rng);
        Tensor labels = Tensors.zeros(ScalarType.Long, data, n).sub_(Tensors.s(1L));
        int iterations = lloyd(data, centers, labels, numClusters, tolAbs);
        double inertia = inertia(data, centers, labels);
        if (bestLabels == null || inertia < bestInertia) {
          bestInertia = inertia;
          bestLabels = Tensors.toLongs(labels);
          bestCenters = centers;
          bestIter = iterations;
        }
      }
      return new Fit(bestLabels, Tensors.toDoubles2d(bestCenters.add(mean)), bestInertia, bestIter);
    }
  }

  /** Squared Euclidean distances {@code [A, N]} between rows of {@code a} and rows of the data, clamped at 0. */
  private static Tensor squaredDistances(Tensor a, Tensor data, Tensor dataSqNorms) {
    Tensor aSq = a.mul(a).sum(new long[] {1}, true, new ScalarTypeOptional());
    return aSq.add(dataSqNorms.unsqueeze(0)).sub(a.matmul(data.t()).mul(Tensors.s(2.0))).clamp_min_(Tensors.s(0.0));
  }

  /** scikit-learn's greedy k-means++: {@code 2 + floor(ln k)} candidates per centre, the best potential kept. */
  private static Tensor kmeansPlusPlus(Tensor data, Tensor sqNorms, int k, SplittableRandom rng) {
    long n = data.size(0);
    int trials = 2 + (int) Math.log(k);
    Tensor centers = Tensors.zeros(data, k, data.size(1));
    long first = rng.nextLong(n);
    centers.select(0, 0).copy_(data.select(0, first));
    Tensor closest = squaredDistances(data.narrow(0, first, 1), data, sqNorms).view(n);
    double potential = closest.sum().item_double();
    for (int c = 1; c < k; c++) {
      try (Scope step = Scope.open()) {
        double[] draws = new double[trials];
        for (int t = 0; t < trials; t++) {
          draws[t] = rng.nextDouble() * potential;
        }
        Tensor cumulative = closest.cumsum(0);
        Tensor candidates = torch.searchsorted(cumulative,
            Tensors.of(draws, ScalarType.Double).to(data.device(), ScalarType.Double))
            .clamp_max_(Tensors.s(n - 1));
        Tensor dist = squaredDistances(data.index_select(0, candidates), data, sqNorms);
        dist = torch.minimum(dist, closest.unsqueeze(0));
        Tensor pots = dist.sum(new long[] {1}, false, new ScalarTypeOptional());
        long best = pots.argmin().item_long();
        potential = pots.get(best).item_double();
        closest.copy_(dist.select(0, best));
        centers.select(0, c).copy_(data.select(0, candidates.get(best).item_long()));
      }
    }
    return centers;
  }

  /** The closest centre of every row, in row chunks of at most ~16M distances. */
  private static Tensor assign(Tensor data, Tensor centers) {
    long n = data.size(0);
    long k = centers.size(0);
    Tensor cSq = centers.mul(centers).sum(new long[] {1}, false, new ScalarTypeOptional()).unsqueeze(0);
    long chunk = Math.max(1, (1L << 24) / Math.max(1, k));
    if (chunk >= n) {
      return cSq.sub(data.matmul(centers.t()).mul(Tensors.s(2.0))).argmin(new org.bytedeco.pytorch.LongOptional(1),
          false);
    }
    Tensor labels = Tensors.zeros(ScalarType.Long, data, n);
    for (long s = 0; s < n; s += chunk) {
      long e = Math.min(n, s + chunk);
      try (Scope part = Scope.open()) {
        Tensor d = cSq.sub(data.narrow(0, s, e - s).matmul(centers.t()).mul(Tensors.s(2.0)));
        labels.narrow(0, s, e - s).copy_(d.argmin(new org.bytedeco.pytorch.LongOptional(1), false));
      }
    }
    return labels;
  }

  /** Lloyd's iterations, updating {@code centers} and {@code labels} in place; returns the iterations run. */
  private int lloyd(Tensor data, Tensor centers, Tensor labels, int k, double tolAbs) {
    long d = data.size(1);
    Tensor previous = labels.clone();
    boolean strict = false;
    int it = 0;
    while (it < maxIter) {
      it++;
      boolean stop;
      try (Scope step = Scope.open()) {
        Tensor current = assign(data, centers);
        Tensor sums = Tensors.zeros(data, k, d).index_add_(0, current, data);
        Tensor counts = torch.bincount(current, new org.bytedeco.pytorch.TensorOptional(), k).to(ScalarType.Double);
        relocateEmpty(data, centers, current, sums, counts);
        Tensor updated = sums.div(counts.clamp_min(Tensors.s(1.0)).unsqueeze(1));
        double shift = updated.sub(centers).pow(Tensors.s(2.0)).sum().item_double();
        labels.copy_(current);
        centers.copy_(updated);
        if (torch.equal(current, previous)) {
          strict = true;
          stop = true;
        } else {
          stop = shift <= tolAbs;
          previous.copy_(current);
        }
      }
      if (stop) {
        break;
      }
    }
    if (!strict) {
      // The labels were computed before the last centre update: make them agree with the final centres.
      try (Scope step = Scope.open()) {
        labels.copy_(assign(data, centers));
      }
    }
    return it;
  }

  /** scikit-learn's {@code _relocate_empty_clusters}: each empty cluster takes one of the farthest points. */
  private static void relocateEmpty(Tensor data, Tensor centers, Tensor labels, Tensor sums, Tensor counts) {
    long[] empty = Tensors.toLongs(Tensors.where(counts.eq(Tensors.s(0.0)))[0]);
    if (empty.length == 0) {
      return;
    }
    Tensor dist = data.sub(centers.index_select(0, labels)).pow(Tensors.s(2.0))
        .sum(new long[] {1}, false, new ScalarTypeOptional());
    long[] far = Tensors.toLongs(torch.topk(dist, empty.length, 0, true, true).get1());
    long[] lab = Tensors.toLongs(labels.index_select(0, Tensors.longs(far).to(labels.device(), ScalarType.Long)));
    for (int i = 0; i < empty.length; i++) {
      Tensor point = data.select(0, far[i]);
      sums.select(0, lab[i]).sub_(point);
      sums.select(0, empty[i]).copy_(point);
      counts.select(0, empty[i]).fill_(Tensors.s(1.0));
      counts.select(0, lab[i]).sub_(Tensors.s(1.0));
    }
  }

  private static double inertia(Tensor data, Tensor centers, Tensor labels) {
    try (Scope s = Scope.open()) {
      return data.sub(centers.index_select(0, labels)).pow(Tensors.s(2.0)).sum().item_double();
    }
  }

  public int nInit() {
    return nInit;
  }

  public int maxIter() {
    return maxIter;
  }

  public double tol() {
    return tol;
  }

  /** The seed, or null when every call draws a fresh one. */
  public Long seed() {
    return seed;
  }

  @Override
  public String toString() {
    return "KMeans(nInit=" + nInit + ", maxIter=" + maxIter + ", tol=" + tol + ", seed=" + seed + ")";
  }

  /**
   * Registry factory, also used for PML's {@code kmeans_func = sklearn.cluster.KMeans(...)}: {@code n_init} (an
   * integer, or "auto" = 1 as scikit-learn does for k-means++), {@code max_iter}, {@code tol}, {@code random_state}
   * (an integer seed or null), {@code init} (only "k-means++"), {@code algorithm} ("lloyd", or its old names "auto"
   * and "full"). {@code n_clusters} is not accepted: the calculator passes the number of query classes.
   */
  public static KMeans fromSpec(Params p) {
    JsonNode ni = p.raw("n_init");
    int nInit;
    if (ni == null || ni.isNull() || (ni.isTextual() && ni.asText().equals("auto"))) {
      nInit = ni == null || ni.isNull() ? DEFAULT_N_INIT : 1;
    } else if (ni.isIntegralNumber()) {
      nInit = ni.intValue();
    } else {
      throw new IllegalArgumentException("n_init must be an integer or 'auto', got " + ni);
    }
    int maxIter = p.getInt("max_iter", DEFAULT_MAX_ITER);
    double tol = p.getDouble("tol", DEFAULT_TOL);
    JsonNode rs = p.raw("random_state");
    Long seed;
    if (rs == null || rs.isNull()) {
      seed = null;
    } else if (rs.isIntegralNumber()) {
      seed = rs.longValue();
    } else {
      throw new IllegalArgumentException("random_state must be an integer or None, got " + rs);
    }
    String init = p.getString("init", "k-means++");
    if (!init.equals("k-means++")) {
      throw new IllegalArgumentException("only init='k-means++' is supported, got '" + init + "'");
    }
    String algorithm = p.getString("algorithm", "lloyd");
    if (!(algorithm.equals("lloyd") || algorithm.equals("auto") || algorithm.equals("full"))) {
      throw new IllegalArgumentException("only algorithm='lloyd' is supported, got '" + algorithm + "'");
    }
    return new KMeans(nInit, maxIter, tol, seed);
  }
}
