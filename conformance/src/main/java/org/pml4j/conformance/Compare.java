package org.pml4j.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Tolerant comparison of computed values with a case's JSON expectations; throws {@link Mismatch} on the first miss.
 */
public final class Compare {
  /** float64 tolerances of the conformance README. */
  public static final Compare FLOAT64 = new Compare(1e-6, 1e-9);
  /** float32 tolerances of the conformance README. */
  public static final Compare FLOAT32 = new Compare(1e-3, 1e-5);

  private final double rtol;
  private final double atol;

  public Compare(double rtol, double atol) {
    this.rtol = rtol;
    this.atol = atol;
  }

  /** A JSON number or one of the strings NaN / Infinity / -Infinity. */
  public static double num(JsonNode n) {
    if (n.isNumber()) {
      return n.doubleValue();
    }
    if (n.isTextual()) {
      return switch (n.asText()) {
        case "NaN" -> Double.NaN;
        case "Infinity" -> Double.POSITIVE_INFINITY;
        case "-Infinity" -> Double.NEGATIVE_INFINITY;
        default -> Double.parseDouble(n.asText());
      };
    }
    if (n.isBoolean()) {
      return n.booleanValue() ? 1 : 0;
    }
    throw new IllegalArgumentException("not a number: " + n);
  }

  /** Flattens a (nested) JSON number array, row-major. */
  public static double[] flat(JsonNode n) {
    List<Double> out = new ArrayList<>();
    flatten(n, out);
    double[] a = new double[out.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = out.get(i);
    }
    return a;
  }

  private static void flatten(JsonNode n, List<Double> out) {
    if (n.isArray()) {
      for (JsonNode x : n) {
        flatten(x, out);
      }
    } else {
      out.add(num(n));
    }
  }

  public boolean close(double expected, double actual) {
    if (Double.isNaN(expected) || Double.isNaN(actual)) {
      return Double.isNaN(expected) && Double.isNaN(actual);
    }
    if (Double.isInfinite(expected) || Double.isInfinite(actual)) {
      return expected == actual;
    }
    return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
  }

  /** Compares a scalar. */
  public void scalar(String what, JsonNode expected, double actual) {
    double e = num(expected);
    if (!close(e, actual)) {
      throw new Mismatch(what + ": expected " + e + ", got " + actual);
    }
  }

  /** Compares flattened arrays element-wise (the shapes must have the same element count). */
  public void array(String what, JsonNode expected, double[] actual) {
    double[] e = flat(expected);
    if (e.length != actual.length) {
      throw new Mismatch(what + ": expected " + e.length + " values, got " + actual.length);
    }
    for (int i = 0; i < e.length; i++) {
      if (!close(e[i], actual[i])) {
        int cols = expected.isArray() && expected.size() > 0 && expected.get(0).isArray() ? expected.get(0).size() : 0;
        String at = cols > 0 ? "[" + (i / cols) + "][" + (i % cols) + "]" : "[" + i + "]";
        throw new Mismatch(what + at + ": expected " + e[i] + ", got " + actual[i]);
      }
    }
  }
}
