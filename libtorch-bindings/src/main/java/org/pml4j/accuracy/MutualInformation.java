package org.pml4j.accuracy;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Information-theoretic agreement of two labelings, as scikit-learn 1.2 computes them (the NMI and AMI of PML's
 * {@code AccuracyCalculator}): mutual information from the contingency table, entropies, the expected mutual
 * information under the hypergeometric model of random labelings with the same class sizes, and
 * <ul>
 *   <li>{@code NMI = MI / mean(H(true), H(pred))} ({@code normalized_mutual_info_score}, arithmetic normalization);
 *   <li>{@code AMI = (MI - EMI) / (mean(H(true), H(pred)) - EMI)} ({@code adjusted_mutual_info_score}).
 * </ul>
 * Labels are categories compared by exact value; any two labelings where both have a single category (or no rows)
 * score 1. Natural logarithms throughout.
 */
public final class MutualInformation {
  private static final double EPS = Math.ulp(1.0);

  private MutualInformation() {}

  /** A labeling as category ids {@code 0..n-1} (ordered by value) with the category sizes. */
  private record Coded(int[] ids, long[] sizes) {
    int categories() {
      return sizes.length;
    }
  }

  private static Coded code(double[] labels) {
    double[] sorted = labels.clone();
    Arrays.sort(sorted);
    int u = 0;
    for (int i = 0; i < sorted.length; i++) {
      if (i == 0 || Double.compare(sorted[i], sorted[u - 1]) != 0) {
        sorted[u++] = sorted[i];
      }
    }
    double[] uniq = Arrays.copyOf(sorted, u);
    int[] ids = new int[labels.length];
    long[] sizes = new long[u];
    for (int i = 0; i < labels.length; i++) {
      int id = Arrays.binarySearch(uniq, labels[i]);
      ids[i] = id;
      sizes[id]++;
    }
    return new Coded(ids, sizes);
  }

  private static double[] widen(long[] a) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }

  private static void checkLengths(double[] a, double[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "labels_true and labels_pred must have the same length, got " + a.length + " and " + b.length);
    }
  }

  /** The non-zero cells of the contingency table, keyed by {@code trueId * numPred + predId}. */
  private static Map<Long, Long> contingency(Coded t, Coded p) {
    Map<Long, Long> cells = new HashMap<>();
    long cols = p.categories();
    for (int i = 0; i < t.ids.length; i++) {
      cells.merge(t.ids[i] * cols + p.ids[i], 1L, Long::sum);
    }
    return cells;
  }

  /** {@code normalized_mutual_info_score(labelsTrue, labelsPred)} with arithmetic normalization. */
  public static double nmi(double[] labelsTrue, double[] labelsPred) {
    checkLengths(labelsTrue, labelsPred);
    Coded t = code(labelsTrue);
    Coded p = code(labelsPred);
    if (t.categories() == p.categories() && t.categories() <= 1) {
      return 1.0;
    }
    double mi = mutualInfo(t, p);
    if (mi == 0) {
      return 0.0;
    }
    return mi / ((entropy(t.sizes) + entropy(p.sizes)) / 2);
  }

  /** {@link #nmi(double[], double[])} of integer labels. */
  public static double nmi(long[] labelsTrue, long[] labelsPred) {
    return nmi(widen(labelsTrue), widen(labelsPred));
  }

  /** {@code adjusted_mutual_info_score(labelsTrue, labelsPred)} with arithmetic normalization. */
  public static double ami(double[] labelsTrue, double[] labelsPred) {
    checkLengths(labelsTrue, labelsPred);
    Coded t = code(labelsTrue);
    Coded p = code(labelsPred);
    if (t.categories() == p.categories() && t.categories() <= 1) {
      return 1.0;
    }
    double mi = mutualInfo(t, p);
    double emi = expectedMutualInfo(t.sizes, p.sizes, labelsTrue.length);
    double normalizer = (entropy(t.sizes) + entropy(p.sizes)) / 2;
    double denominator = normalizer - emi;
    // As scikit-learn: keep the sign, avoid 0/0 when the expectation equals the maximum (a perfect match).
    denominator = denominator < 0 ? Math.min(denominator, -EPS) : Math.max(denominator, EPS);
    return (mi - emi) / denominator;
  }

  /** {@link #ami(double[], double[])} of integer labels. */
  public static double ami(long[] labelsTrue, long[] labelsPred) {
    return ami(widen(labelsTrue), widen(labelsPred));
  }

  /** {@code mutual_info_score(labelsTrue, labelsPred)}, in nats. */
  public static double mutualInfo(double[] labelsTrue, double[] labelsPred) {
    checkLengths(labelsTrue, labelsPred);
    return mutualInfo(code(labelsTrue), code(labelsPred));
  }

  private static double mutualInfo(Coded t, Coded p) {
    if (t.categories() == 1 || p.categories() == 1) {
      return 0.0;
    }
    long[] a = t.sizes;
    long[] b = p.sizes;
    long cols = p.categories();
    double total = t.ids.length;
    double logTotal = Math.log(total);
    double sum = 0;
    for (Map.Entry<Long, Long> cell : contingency(t, p).entrySet()) {
      int i = (int) (cell.getKey() / cols);
      int j = (int) (cell.getKey() % cols);
      double nij = cell.getValue();
      double pij = nij / total;
      double logOuter = -Math.log((double) (a[i] * b[j])) + logTotal + logTotal;
      double term = pij * (Math.log(nij) - logTotal) + pij * logOuter;
      sum += Math.abs(term) < EPS ? 0.0 : term;
    }
    return Math.max(sum, 0.0);
  }

  /** {@code entropy(labels)} in nats (1 for no labels, 0 for a single category). */
  public static double entropy(double[] labels) {
    if (labels.length == 0) {
      return 1.0;
    }
    return entropy(code(labels).sizes);
  }

  private static double entropy(long[] sizes) {
    if (sizes.length == 0) {
      return 1.0;
    }
    if (sizes.length == 1) {
      return 0.0;
    }
    double total = 0;
    for (long s : sizes) {
      total += s;
    }
    double logTotal = Math.log(total);
    double h = 0;
    for (long s : sizes) {
      h += (s / total) * (Math.log(s) - logTotal);
    }
    return -h;
  }

  /**
   * The expected mutual information of two random labelings of {@code n} rows with category sizes {@code a} and
   * {@code b}: {@code sum_ij sum_nij (nij/N) log(N nij / (a_i b_j)) P(nij)}, with {@code P} hypergeometric.
   */
  public static double expectedMutualInfo(long[] a, long[] b, long n) {
    if (a.length == 1 || b.length == 1) {
      return 0.0;
    }
    long maxNij = 0;
    for (long x : a) {
      maxNij = Math.max(maxNij, x);
    }
    for (long x : b) {
      maxNij = Math.max(maxNij, x);
    }
    double bigN = n;
    double logN = Math.log(bigN);
    double lnFactN = logFactorial(n);
    double[] logFact = new double[(int) n + 1];
    for (int m = 0; m <= n; m++) {
      logFact[m] = logFactorial(m);
    }
    double emi = 0;
    for (long ai : a) {
      double logA = Math.log(ai);
      double glnA = logFact[(int) ai] + logFact[(int) (n - ai)];
      for (long bj : b) {
        double logB = Math.log(bj);
        double glnB = logFact[(int) bj] + logFact[(int) (n - bj)];
        long start = Math.max(1, ai - n + bj);
        long end = Math.min(ai, bj);
        for (long nij = start; nij <= end; nij++) {
          double term1 = nij / bigN;
          double term2 = logN + Math.log(nij) - logA - logB;
          double gln = glnA + glnB - lnFactN - logFact[(int) nij] - logFact[(int) (ai - nij)]
              - logFact[(int) (bj - nij)] - logFact[(int) (n - ai - bj + nij)];
          emi += term1 * term2 * Math.exp(gln);
        }
      }
    }
    return emi;
  }

  private static final double[] SMALL_LOG_FACTORIALS = new double[32];

  static {
    double f = 1;
    for (int m = 0; m < SMALL_LOG_FACTORIALS.length; m++) {
      if (m > 0) {
        f *= m;
      }
      SMALL_LOG_FACTORIALS[m] = Math.log(f);
    }
  }

  /** {@code ln(m!)} = {@code lgamma(m + 1)}: exact products for small m, Stirling's series otherwise. */
  static double logFactorial(long m) {
    if (m < 0) {
      throw new IllegalArgumentException("negative factorial argument " + m);
    }
    if (m < SMALL_LOG_FACTORIALS.length) {
      return SMALL_LOG_FACTORIALS[(int) m];
    }
    double x = m;
    double inv = 1 / x;
    double inv2 = inv * inv;
    double series = inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 * (1.0 / 1680))));
    return x * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI * x) + series;
  }
}
