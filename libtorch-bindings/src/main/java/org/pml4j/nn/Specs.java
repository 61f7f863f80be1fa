package org.pml4j.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.pml4j.spec.Params;
import org.pml4j.spec.SpecException;

/** Spec parsing helpers shared by the layers: PyTorch's "int or tuple" arguments and shape lists. */
final class Specs {
  private Specs() {}

  /** A required integer parameter. */
  static long requiredLong(Params p, String name) {
    Integer v = p.getIntOrNull(name);
    if (v == null) {
      throw new SpecException(p.className() + ": missing required parameter '" + name + "'");
    }
    return v;
  }

  /**
   * PyTorch's {@code int or tuple} argument ({@code kernel_size=3} or {@code [3, 5]}) as {@code n} values; {@code def}
   * when absent (null def: required).
   */
  static long[] intOrTuple(Params p, String name, int n, long[] def) {
    JsonNode v = p.raw(name);
    if (v == null || v.isNull()) {
      if (def == null) {
        throw new SpecException(p.className() + ": missing required parameter '" + name + "'");
      }
      return def.clone();
    }
    long[] out = new long[n];
    if (v.isIntegralNumber()) {
      java.util.Arrays.fill(out, v.longValue());
      return out;
    }
    if (v.isArray() && v.size() == n) {
      for (int i = 0; i < n; i++) {
        if (!v.get(i).isIntegralNumber()) {
          throw new SpecException(p.className() + "." + name + ": expected an integer or a list of " + n
              + " integers, got " + v);
        }
        out[i] = v.get(i).longValue();
      }
      return out;
    }
    throw new SpecException(p.className() + "." + name + ": expected an integer or a list of " + n
        + " integers, got " + v);
  }

  /** A list of integers (a shape); a bare integer is a one-element list. Null when absent. */
  static long[] longList(Params p, String name) {
    JsonNode v = p.raw(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (v.isIntegralNumber()) {
      return new long[] {v.longValue()};
    }
    if (!v.isArray()) {
      throw new SpecException(p.className() + "." + name + ": expected a list of integers, got " + v);
    }
    long[] out = new long[v.size()];
    for (int i = 0; i < out.length; i++) {
      if (!v.get(i).isIntegralNumber()) {
        throw new SpecException(p.className() + "." + name + ": expected a list of integers, got " + v);
      }
      out[i] = v.get(i).longValue();
    }
    return out;
  }

  static ArrayNode array(long... values) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    for (long v : values) {
      a.add(v);
    }
    return a;
  }
}
