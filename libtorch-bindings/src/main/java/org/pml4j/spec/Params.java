package org.pml4j.spec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code params} of a spec, read by a component's {@code fromSpec(Params)} factory. Keys may be PML's snake_case
 * ({@code triplets_per_anchor}) or camelCase ({@code tripletsPerAnchor}). Every getter records the name it asked for,
 * so {@link #done()} can reject unknown keys with the list of valid ones.
 */
public final class Params {
  private final String className;
  private final Map<String, Map.Entry<String, JsonNode>> byKey = new LinkedHashMap<>();
  private final Set<String> asked = new LinkedHashSet<>();
  private final Set<String> used = new LinkedHashSet<>();

  Params(String className, JsonNode params) {
    this.className = className;
    if (params != null && !params.isNull()) {
      if (!params.isObject()) {
        throw new SpecException(className + ": params must be a JSON object, got " + params.getNodeType());
      }
      Iterator<Map.Entry<String, JsonNode>> it = params.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        byKey.put(normalize(e.getKey()), Map.entry(e.getKey(), e.getValue()));
      }
    }
  }

  static String normalize(String key) {
    return key.replace("_", "").toLowerCase(Locale.ROOT);
  }

  /** The class being built. */
  public String className() {
    return className;
  }

  /** Whether the key is present (and not JSON null). */
  public boolean has(String name) {
    JsonNode n = peek(name);
    return n != null && !n.isNull();
  }

  private JsonNode peek(String name) {
    asked.add(name);
    Map.Entry<String, JsonNode> e = byKey.get(normalize(name));
    return e == null ? null : e.getValue();
  }

  /** The raw JSON value, or null when absent. */
  public JsonNode raw(String name) {
    JsonNode n = peek(name);
    if (n != null) {
      used.add(normalize(name));
    }
    return n;
  }

  private SpecException bad(String name, String expected, JsonNode got) {
    return new SpecException(className + "." + name + ": expected " + expected + ", got " + got);
  }

  /**
   * A finite number, or {@code def} when absent or JSON null.
   *
   * @throws SpecException naming the key when the value is not a number, NaN, infinite, or beyond a double's range
   */
  public double getDouble(String name, double def) {
    Double v = getDoubleOrNull(name);
    return v == null ? def : v;
  }

  /**
   * A finite number, or null when absent or JSON null.
   *
   * @throws SpecException naming the key when the value is not a number, NaN, infinite, or beyond a double's range
   *     (JSON {@code 1e400} would otherwise parse as infinity)
   */
  public Double getDoubleOrNull(String name) {
    return readDouble(name, false);
  }

  /**
   * A number that may be infinite, written as the string {@code "inf"}, {@code "Infinity"}, {@code "-inf"} or
   * {@code "-Infinity"} (for PML parameters where infinity means something, such as {@code ManifoldLoss}'s
   * {@code lambdaC}); null when absent or JSON null.
   *
   * @throws SpecException naming the key for NaN, a non-number, or a numeral beyond a double's range
   */
  public Double getDoubleOrInfOrNull(String name) {
    return readDouble(name, true);
  }

  /** {@link #getDoubleOrInfOrNull(String)} with a default. */
  public double getDoubleOrInf(String name, double def) {
    Double v = getDoubleOrInfOrNull(name);
    return v == null ? def : v;
  }

  private Double readDouble(String name, boolean infinityAllowed) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return null;
    }
    if (n.isNumber()) {
      double v = n.doubleValue();
      if (!Double.isFinite(v)) {
        throw new SpecException(className + "." + name + ": expected a finite number, got " + n.asText()
            + " (beyond the range of a double)");
      }
      return v;
    }
    if (n.isTextual()) {
      String t = n.asText();
      switch (t) {
        case "Infinity", "inf", "-Infinity", "-inf":
          if (infinityAllowed) {
            return t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
          }
          throw new SpecException(className + "." + name + ": expected a finite number, got \"" + t + "\"");
        case "NaN", "nan":
          throw new SpecException(className + "." + name + ": expected a " + (infinityAllowed ? "" : "finite ")
              + "number, got \"" + t + "\" (NaN is not allowed)");
        default:
          break;
      }
    }
    throw bad(name, infinityAllowed ? "a number or \"inf\"" : "a finite number", n);
  }

  public int getInt(String name, int def) {
    Integer v = getIntOrNull(name);
    return v == null ? def : v;
  }

  /**
   * An integer within Java's {@code int} range, or null when absent or JSON null. A number with a fraction of 0
   * ({@code 3.0}) is accepted.
   *
   * @throws SpecException naming the key for a non-integer, or an integer beyond {@code int} (never truncated)
   */
  public Integer getIntOrNull(String name) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return null;
    }
    return toInt(name, n);
  }

  private int toInt(String name, JsonNode n) {
    boolean integral = n.isIntegralNumber()
        || (n.isNumber() && Double.isFinite(n.doubleValue()) && n.doubleValue() == Math.rint(n.doubleValue()));
    if (!integral) {
      throw bad(name, "an integer", n);
    }
    boolean fits = n.isIntegralNumber() ? n.canConvertToInt()
        : n.doubleValue() >= Integer.MIN_VALUE && n.doubleValue() <= Integer.MAX_VALUE;
    if (!fits) {
      throw new SpecException(className + "." + name + ": expected an integer in [" + Integer.MIN_VALUE + ", "
          + Integer.MAX_VALUE + "], got " + n.asText() + " (out of range)");
    }
    return n.isIntegralNumber() ? n.intValue() : (int) n.doubleValue();
  }

  /**
   * PML's {@code "all"}-or-integer parameters ({@code triplets_per_anchor}): null for "all" or absent, else the int.
   */
  public Integer getIntOrAll(String name) {
    JsonNode n = raw(name);
    if (n == null || n.isNull() || (n.isTextual() && n.textValue().equals("all"))) {
      return null;
    }
    if (n.isIntegralNumber() && n.canConvertToInt() && n.intValue() > 0) {
      return n.intValue();
    }
    if (n.isIntegralNumber() && !n.canConvertToInt()) {
      throw new SpecException(className + "." + name + ": expected \"all\" or a positive integer up to "
          + Integer.MAX_VALUE + ", got " + n.asText() + " (out of range)");
    }
    throw bad(name, "\"all\" or a positive integer", n);
  }

  /**
   * A required integer.
   *
   * @throws SpecException when absent
   */
  public int getRequiredInt(String name) {
    Integer v = getIntOrNull(name);
    if (v == null) {
      throw new SpecException(className + ": missing required parameter '" + name + "'");
    }
    return v;
  }

  public boolean getBool(String name, boolean def) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return def;
    }
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    throw bad(name, "true or false", n);
  }

  public String getString(String name, String def) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return def;
    }
    if (n.isTextual()) {
      return n.textValue();
    }
    throw bad(name, "a string", n);
  }

  /** A list of finite numbers, or null when absent. */
  public double[] getDoubleArray(String name) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isArray()) {
      throw bad(name, "a list of numbers", n);
    }
    double[] out = new double[n.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode x = n.get(i);
      if (!x.isNumber() || !Double.isFinite(x.doubleValue())) {
        throw bad(name + "[" + i + "]", "a finite number", x);
      }
      out[i] = x.doubleValue();
    }
    return out;
  }

  /** A nested component spec built by the registry, or null when absent. */
  public <T> T getComponent(String name, Class<T> type) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return null;
    }
    Object o = Registry.build(n);
    if (!type.isInstance(o)) {
      throw new SpecException(className + "." + name + ": expected a " + type.getSimpleName() + ", got "
          + o.getClass().getSimpleName());
    }
    return type.cast(o);
  }

  /** A list of nested specs (entries may be JSON null → null), or null when absent. */
  public <T> List<T> getComponentList(String name, Class<T> type) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isArray()) {
      throw bad(name, "a list of specs", n);
    }
    List<T> out = new ArrayList<>();
    for (JsonNode x : n) {
      out.add(x.isNull() ? null : castBuilt(name, Registry.build(x), type));
    }
    return out;
  }

  /** A map of nested specs (values may be JSON null → null), or null when absent. */
  public <T> Map<String, T> getComponentMap(String name, Class<T> type) {
    JsonNode n = raw(name);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isObject()) {
      throw bad(name, "an object of specs", n);
    }
    Map<String, T> out = new LinkedHashMap<>();
    Iterator<Map.Entry<String, JsonNode>> it = n.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      out.put(e.getKey(), e.getValue().isNull() ? null : castBuilt(name, Registry.build(e.getValue()), type));
    }
    return out;
  }

  private <T> T castBuilt(String name, Object o, Class<T> type) {
    if (!type.isInstance(o)) {
      throw new SpecException(className + "." + name + ": expected " + type.getSimpleName() + " entries, got "
          + o.getClass().getSimpleName());
    }
    return type.cast(o);
  }

  /** Reads (and ignores) PML's {@code collect_stats}: pml4j does not record stats. */
  public void collectStats() {
    getBool("collect_stats", false);
  }

  /**
   * Rejects keys that no getter asked for.
   *
   * @throws SpecException listing the unknown keys and the valid ones
   */
  public void done() {
    List<String> unknown = new ArrayList<>();
    for (Map.Entry<String, Map.Entry<String, JsonNode>> e : byKey.entrySet()) {
      if (!used.contains(e.getKey())) {
        boolean known = false;
        for (String a : asked) {
          if (normalize(a).equals(e.getKey())) {
            known = true;
            break;
          }
        }
        if (!known) {
          unknown.add(e.getValue().getKey());
        }
      }
    }
    if (!unknown.isEmpty()) {
      throw new SpecException(className + ": unknown parameter" + (unknown.size() > 1 ? "s " : " ") + unknown
          + Messages.didYouMean(unknown.get(0), asked) + "; valid parameters are " + asked);
    }
  }

  /** Wraps an arbitrary JSON object as params (for tests and callers building specs by hand). */
  public static Params of(String className, ObjectNode params) {
    return new Params(className, params == null ? NullNode.getInstance() : params);
  }
}
