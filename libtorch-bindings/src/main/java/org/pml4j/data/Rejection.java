package org.pml4j.data;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Why a labeled record cannot be used, as a reason code and a detail ("expected 784 features, got 783"). The reason
 * codes are shared by {@code pml4j train} (which counts and reports rejected lines of a csv/jsonl file) and the Flink
 * job (whose validation sends rejected records to a side output with these codes); {@link #check} is the one
 * validation rule both apply.
 *
 * @param reason one of the reason codes below
 * @param detail a human-readable detail
 */
public record Rejection(String reason, String detail) {
  /** A feature vector of another length than the expected dimension. */
  public static final String WRONG_DIMENSION = "wrong_dimension";
  /** A feature that is NaN or infinite. */
  public static final String NON_FINITE = "non_finite";
  /** No label where one is required (training and held-out data). */
  public static final String MISSING_LABEL = "missing_label";
  /** No feature vector. */
  public static final String MISSING_FEATURES = "missing_features";
  /** A feature beyond the magnitude bound ({@code max_abs_feature}). */
  public static final String OUT_OF_RANGE = "out_of_range";
  /** A line or value the parser could not read (not JSON, a value that is not a number, a stray first line). */
  public static final String MALFORMED = "malformed";
  /** A label that is not an integer of the int64 range ("3.5", "abc", 99999999999999999999, true). */
  public static final String BAD_LABEL = "bad_label";

  /** The default magnitude bound of {@link #check}: features beyond 1e12 are {@link #OUT_OF_RANGE}. */
  public static final double DEFAULT_MAX_ABS = 1e12;

  /** @throws NullPointerException when an argument is null */
  public Rejection {
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(detail, "detail");
  }

  /** This rejection with {@code prefix} before its detail ({@code "line 7: "}). */
  public Rejection prefixed(String prefix) {
    return new Rejection(reason, prefix + detail);
  }

  /** {@code reason: detail}. */
  @Override
  public String toString() {
    return reason + ": " + detail;
  }

  /**
   * The validation rule of a labeled record, in this order: the parser's own rejection, no features, a wrong
   * dimension, no label (when required), then the first feature that is not finite or beyond {@code maxAbs}.
   *
   * @param parsed the parser's rejection, or null when it read the record
   * @param label the label, or null when the record has none
   * @param features the features, or null when the record has none
   * @param dimension the expected number of features
   * @param requireLabel whether a record without a label is rejected
   * @param maxAbs the magnitude bound of a feature; 0: none
   * @return the rejection, or null when the record is good
   */
  public static Rejection check(Rejection parsed, Long label, float[] features, int dimension, boolean requireLabel,
      double maxAbs) {
    if (parsed != null) {
      return parsed;
    }
    if (features == null) {
      return new Rejection(MISSING_FEATURES, "no feature vector");
    }
    if (features.length != dimension) {
      return new Rejection(WRONG_DIMENSION, "expected " + dimension + " features, got " + features.length);
    }
    if (requireLabel && label == null) {
      return new Rejection(MISSING_LABEL, "no label");
    }
    for (int i = 0; i < features.length; i++) {
      if (!Float.isFinite(features[i])) {
        return new Rejection(NON_FINITE, "feature " + i + " is " + features[i]);
      }
      if (maxAbs > 0 && Math.abs(features[i]) > maxAbs) {
        return new Rejection(OUT_OF_RANGE, "feature " + i + " is " + features[i] + ", beyond max_abs_feature "
            + maxAbs);
      }
    }
    return null;
  }

  /**
   * What a source left out: how many records, how many per reason, and the first few rejections (with where they
   * were: {@code "line 7: ..."}).
   *
   * @param count records rejected
   * @param byReason records rejected per reason code, in the order first seen
   * @param first the first rejections, at most {@link #FIRST}
   */
  public record Summary(long count, Map<String, Long> byReason, List<Rejection> first) {
    /** Rejections kept in {@link #first}. */
    public static final int FIRST = 5;
    /** Nothing rejected. */
    public static final Summary NONE = new Summary(0, Map.of(), List.of());

    /** Copies the collections. */
    public Summary {
      byReason = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(byReason));
      first = List.copyOf(first);
    }

    /** {@code "3 (bad_label 2, malformed 1); first: bad_label: line 4: ...; ..."}, or {@code "0"}. */
    @Override
    public String toString() {
      if (count == 0) {
        return "0";
      }
      StringBuilder b = new StringBuilder().append(count).append(" (");
      String sep = "";
      for (Map.Entry<String, Long> e : byReason.entrySet()) {
        b.append(sep).append(e.getKey()).append(' ').append(e.getValue());
        sep = ", ";
      }
      b.append("); first: ");
      sep = "";
      for (Rejection r : first) {
        b.append(sep).append(r);
        sep = "; ";
      }
      return b.toString();
    }
  }
}
