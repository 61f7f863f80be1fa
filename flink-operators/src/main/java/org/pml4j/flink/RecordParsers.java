package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * Text forms of {@link LabeledVector}, shared by the file and Kafka sources. Parsing never throws on bad content: a
 * record that cannot be read becomes one that {@link ValidateFunction} rejects (null features, NaN values or a null
 * label), so one bad line does not stop the job.
 *
 * <p><b>JSON lines</b>: {@code {"id": 7, "label": 3, "vector": [0.1, 0.2, ...]}} — {@code "features"} is accepted for
 * {@code "vector"}; {@code id} is optional (the record's position is used); a missing or null {@code label} is a
 * missing label.
 *
 * <p><b>CSV</b>: {@code label,f0,f1,...}, one record per line; an empty label field is a missing label. A first line
 * whose fields are not numbers is a header: then a column named {@code id} gives the id, a column named {@code label}
 * the label, and every other column is a feature.
 */
public final class RecordParsers {
  private static final ObjectMapper JSON = new ObjectMapper();

  private RecordParsers() {}

  /** Parses one JSON line; {@code position} is the id when the line has none. */
  public static LabeledVector parseJson(String line, long position) {
    JsonNode n;
    try {
      n = JSON.readTree(line);
    } catch (IOException e) {
      return new LabeledVector(position, null, null);
    }
    if (n == null || !n.isObject()) {
      return new LabeledVector(position, null, null);
    }
    return fromJson(n, position);
  }

  /** Parses one JSON value as bytes (Kafka); {@code position} is the id when the record has none. */
  public static LabeledVector parseJson(byte[] bytes, long position) {
    JsonNode n;
    try {
      n = JSON.readTree(bytes);
    } catch (IOException e) {
      return new LabeledVector(position, null, null);
    }
    if (n == null || !n.isObject()) {
      return new LabeledVector(position, null, null);
    }
    return fromJson(n, position);
  }

  private static LabeledVector fromJson(JsonNode n, long position) {
    long id = position;
    JsonNode idNode = n.get("id");
    if (idNode != null && idNode.canConvertToLong() && idNode.isIntegralNumber()) {
      id = idNode.longValue();
    }
    Long label = null;
    JsonNode l = n.get("label");
    if (l != null && l.isIntegralNumber() && l.canConvertToLong()) {
      label = l.longValue();
    } else if (l != null && l.isTextual()) {
      label = parseLabel(l.textValue());
    }
    JsonNode v = n.has("vector") ? n.get("vector") : n.get("features");
    float[] features = null;
    if (v != null && v.isArray()) {
      features = new float[v.size()];
      for (int i = 0; i < features.length; i++) {
        JsonNode x = v.get(i);
        features[i] = x.isNumber() ? x.floatValue() : x.isTextual() ? parseFloat(x.textValue()) : Float.NaN;
      }
    }
    return new LabeledVector(id, label, features);
  }

  /** A CSV layout: which column is the id, which the label (-1: none), the rest are features. */
  public record CsvLayout(int idColumn, int labelColumn) {
    /** No header: label first, then the features. */
    public static final CsvLayout DEFAULT = new CsvLayout(-1, 0);
  }

  /**
   * The layout described by a header line, or null when {@code line} is a data line (its fields all parse as numbers
   * or are empty).
   */
  public static CsvLayout headerLayout(String line) {
    String[] f = line.split(",", -1);
    boolean header = false;
    for (String s : f) {
      String t = s.trim();
      if (!t.isEmpty() && Float.isNaN(parseFloat(t)) && !t.equalsIgnoreCase("nan")) {
        header = true;
        break;
      }
    }
    if (!header) {
      return null;
    }
    int id = -1;
    int label = -1;
    for (int i = 0; i < f.length; i++) {
      String t = unquote(f[i].trim()).toLowerCase(java.util.Locale.ROOT);
      if (t.equals("id")) {
        id = i;
      } else if (t.equals("label")) {
        label = i;
      }
    }
    return new CsvLayout(id, label);
  }

  /** Parses one CSV data line. */
  public static LabeledVector parseCsv(String line, CsvLayout layout, long position) {
    String[] f = line.split(",", -1);
    long id = position;
    Long label = null;
    int nFeatures = f.length - (layout.idColumn() >= 0 && layout.idColumn() < f.length ? 1 : 0)
        - (layout.labelColumn() >= 0 && layout.labelColumn() < f.length ? 1 : 0);
    float[] features = new float[Math.max(nFeatures, 0)];
    int k = 0;
    for (int i = 0; i < f.length; i++) {
      String t = unquote(f[i].trim());
      if (i == layout.idColumn()) {
        try {
          id = Long.parseLong(t);
        } catch (NumberFormatException e) {
          // keep the position
        }
      } else if (i == layout.labelColumn()) {
        label = parseLabel(t);
      } else {
        features[k++] = parseFloat(t);
      }
    }
    return new LabeledVector(id, label, features);
  }

  /** Formats a record as a CSV line {@code label,f0,...} (empty label when null). */
  public static String toCsv(LabeledVector v) {
    StringBuilder b = new StringBuilder();
    if (v.label != null) {
      b.append(v.label);
    }
    for (float x : v.features) {
      b.append(',').append(x);
    }
    return b.toString();
  }

  /** Formats a record as a JSON line. */
  public static String toJson(LabeledVector v) {
    StringBuilder b = new StringBuilder("{\"id\":").append(v.id).append(",\"label\":")
        .append(v.label == null ? "null" : v.label.toString()).append(",\"vector\":[");
    for (int i = 0; i < v.features.length; i++) {
      if (i > 0) {
        b.append(',');
      }
      float x = v.features[i];
      b.append(Float.isFinite(x) ? Float.toString(x) : "\"" + x + "\"");
    }
    return b.append("]}").toString();
  }

  private static Long parseLabel(String t) {
    if (t == null || t.isEmpty()) {
      return null;
    }
    try {
      return Long.parseLong(t.trim());
    } catch (NumberFormatException e) {
      try {
        double d = Double.parseDouble(t.trim());
        return d == Math.rint(d) && Double.isFinite(d) ? (long) d : null;
      } catch (NumberFormatException e2) {
        return null;
      }
    }
  }

  private static float parseFloat(String t) {
    if (t == null || t.isEmpty()) {
      return Float.NaN;
    }
    try {
      return Float.parseFloat(t);
    } catch (NumberFormatException e) {
      return Float.NaN;
    }
  }

  private static String unquote(String t) {
    return t.length() >= 2 && t.startsWith("\"") && t.endsWith("\"") ? t.substring(1, t.length() - 1) : t;
  }
}
