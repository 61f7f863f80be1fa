package org.pml4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The one parser of labeled records in text, shared by {@code pml4j train} ({@link RecordFile}), the Flink file and
 * Kafka sources. Parsing never throws on bad content: a record that cannot be read carries a {@link Rejection}
 * ({@link Rejection#MALFORMED} or {@link Rejection#BAD_LABEL}, with a detail naming the field and the text), so one
 * bad line does not stop a run. Reading whole files (byte-order mark, blank lines, the CSV header, line numbers) is
 * {@link RecordReader}'s part.
 *
 * <p><b>JSON lines</b>: {@code {"id": 7, "label": 3, "vector": [0.1, 0.2, ...]}} — {@code "features"} is accepted for
 * {@code "vector"}; {@code id} is optional (the record's position is used); a missing or null {@code label} is a
 * missing label. Feature values are numbers, or strings holding numbers ({@code "NaN"} is a number, rejected later as
 * non-finite); anything else is malformed.
 *
 * <p><b>CSV</b>: {@code label,f0,f1,...}, one record per line; an empty label field is a missing label. The first
 * line is a header when it names a {@code label} or {@code id} column, or when none of its fields is a number and the
 * next line has as many fields; then a column named {@code id} gives the id, a column named {@code label} the label,
 * and every other column is a feature. A first line of names that is not a header by that rule is rejected as
 * malformed ({@link #strayFirstLine}: it is not silently taken as a header that would misread the whole file). A
 * UTF-8 byte-order mark at the start of a file is dropped ({@link #stripBom}).
 *
 * <p><b>Labels, both formats</b>: an integer of the int64 range, written as an integer ({@code 3}, {@code "3"}) or as
 * an integral-valued number ({@code 3.0}, {@code 3e2}) of magnitude at most 2<sup>53</sup> (beyond that a float does
 * not denote one integer exactly). Anything else is a {@code bad_label}: {@code 3.5} ("not an integer"),
 * {@code 99999999999999999999} ("outside the int64 range"), {@code 1e20} ("beyond 2^53"), text, booleans.
 */
public final class RecordParser {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The largest magnitude of a float label: every integer up to 2^53 is exactly a double. */
  static final double MAX_FLOAT_LABEL = 0x1p53;

  private RecordParser() {}

  /** A record being read: the first problem found wins. */
  private static final class Draft {
    long id;
    Long label;
    float[] features;
    Rejection rejection;

    Draft(long id) {
      this.id = id;
    }

    Draft invalid(String reason, String detail) {
      if (rejection == null) {
        rejection = new Rejection(reason, detail);
      }
      return this;
    }

    ParsedRecord done() {
      return new ParsedRecord(id, label, features, rejection);
    }
  }

  /** {@code line} without a leading UTF-8 byte-order mark (U+FEFF), as a file's first line may carry one. */
  public static String stripBom(String line) {
    return line != null && !line.isEmpty() && line.charAt(0) == '\uFEFF' ? line.substring(1) : line;
  }

  /** Parses one JSON line; {@code position} is the id when the line has none. */
  public static ParsedRecord parseJson(String line, long position) {
    try {
      return fromJson(JSON.readTree(line), position);
    } catch (IOException e) {
      return new Draft(position).invalid(Rejection.MALFORMED, "not JSON: " + brief(e)).done();
    }
  }

  /** Parses one JSON value given as UTF-8 bytes (a Kafka record); {@code position} is the id when it has none. */
  public static ParsedRecord parseJson(byte[] bytes, long position) {
    try {
      return fromJson(JSON.readTree(bytes), position);
    } catch (IOException e) {
      return new Draft(position).invalid(Rejection.MALFORMED, "not JSON: " + brief(e)).done();
    }
  }

  private static String brief(IOException e) {
    String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : String.valueOf(e.getMessage());
    int nl = m.indexOf('\n');
    return nl >= 0 ? m.substring(0, nl) : m;
  }

  private static String type(JsonNode n) {
    return n.getNodeType().name().toLowerCase(Locale.ROOT);
  }

  private static ParsedRecord fromJson(JsonNode n, long position) {
    if (n == null || n.isMissingNode()) {
      return new Draft(position).invalid(Rejection.MALFORMED, "empty JSON value").done();
    }
    if (!n.isObject()) {
      return new Draft(position).invalid(Rejection.MALFORMED, "a JSON " + type(n) + ", not an object").done();
    }
    JsonNode idNode = n.get("id");
    Draft out = new Draft(idNode != null && idNode.canConvertToLong() && idNode.isIntegralNumber()
        ? idNode.longValue() : position);
    JsonNode l = n.get("label");
    if (l != null && !l.isNull()) {
      if (l.isIntegralNumber()) {
        if (l.canConvertToLong()) {
          out.label = l.longValue();
        } else {
          out.invalid(Rejection.BAD_LABEL, "label " + l.asText() + " is outside the int64 range");
        }
      } else if (l.isNumber()) {
        labelFromDouble(out, l.doubleValue(), l.asText());
      } else if (l.isTextual()) {
        labelFromText(out, l.textValue());
      } else {
        out.invalid(Rejection.BAD_LABEL, "label is a JSON " + type(l) + ", not an integer");
      }
    }
    JsonNode v = n.has("vector") ? n.get("vector") : n.get("features");
    if (v != null && v.isArray()) {
      float[] features = new float[v.size()];
      for (int i = 0; i < features.length; i++) {
        JsonNode x = v.get(i);
        if (x.isNumber()) {
          features[i] = x.floatValue();
        } else if (x.isTextual()) {
          features[i] = parseFeature(out, i, x.textValue());
        } else {
          features[i] = Float.NaN;
          out.invalid(Rejection.MALFORMED, "feature " + i + " is a JSON " + type(x) + ", not a number");
        }
      }
      out.features = features;
    } else if (v != null && !v.isNull()) {
      out.invalid(Rejection.MALFORMED, "\"" + (n.has("vector") ? "vector" : "features") + "\" is a JSON "
          + type(v) + ", not an array");
    }
    return out.done();
  }

  /**
   * A CSV layout: which column is the id, which the label (-1: none); the rest are features.
   *
   * @param idColumn the id column, or -1
   * @param labelColumn the label column, or -1
   */
  public record CsvLayout(int idColumn, int labelColumn) {
    /** No header: label first, then the features. */
    public static final CsvLayout DEFAULT = new CsvLayout(-1, 0);
  }

  /**
   * The layout described by a file's first line, or null when it is not a header. It is one when it names a
   * {@code label} or {@code id} column (case-insensitive, quotes allowed), or when it has no number among its fields
   * ({@link #looksLikeNames}) and {@code next}, the following non-blank line, has as many fields. Strip a byte-order
   * mark first ({@link #stripBom}).
   *
   * @param next the next non-blank line, or null when there is none
   */
  public static CsvLayout headerLayout(String line, String next) {
    String[] f = line.split(",", -1);
    int id = -1;
    int label = -1;
    for (int i = 0; i < f.length; i++) {
      String t = unquote(f[i].trim()).toLowerCase(Locale.ROOT);
      if (t.equals("id") && id < 0) {
        id = i;
      } else if (t.equals("label") && label < 0) {
        label = i;
      }
    }
    boolean named = id >= 0 || label >= 0;
    if (!named && !(looksLikeNames(line) && next != null && next.split(",", -1).length == f.length)) {
      return null;
    }
    return new CsvLayout(id, label);
  }

  /** Whether no field of {@code line} is a number (empty fields aside) and at least one is not empty. */
  public static boolean looksLikeNames(String line) {
    boolean any = false;
    for (String s : line.split(",", -1)) {
      String t = unquote(s.trim());
      if (t.isEmpty()) {
        continue;
      }
      if (isNumber(t)) {
        return false;
      }
      any = true;
    }
    return any;
  }

  /**
   * The record for a first line that is neither a header nor a record (names that {@link #headerLayout} does not
   * take as a header): malformed, with the reason it is not a header.
   */
  public static ParsedRecord strayFirstLine(String line, String next, long position) {
    int fields = line.split(",", -1).length;
    String why = next == null ? "no data line follows"
        : "the next line has " + next.split(",", -1).length + " fields";
    return new Draft(position).invalid(Rejection.MALFORMED, "first line " + quote(line)
        + " is neither a record nor a header (" + fields + " field" + (fields == 1 ? "" : "s")
        + " and no 'label' or 'id' column; " + why + ")").done();
  }

  /** Parses one CSV data line; {@code position} is the id when the layout has no id column. */
  public static ParsedRecord parseCsv(String line, CsvLayout layout, long position) {
    String[] f = line.split(",", -1);
    int nFeatures = f.length - (layout.idColumn() >= 0 && layout.idColumn() < f.length ? 1 : 0)
        - (layout.labelColumn() >= 0 && layout.labelColumn() < f.length ? 1 : 0);
    Draft out = new Draft(position);
    out.features = new float[Math.max(nFeatures, 0)];
    int k = 0;
    for (int i = 0; i < f.length; i++) {
      String t = unquote(f[i].trim());
      if (i == layout.idColumn()) {
        try {
          out.id = Long.parseLong(t);
        } catch (NumberFormatException e) {
          // keep the position
        }
      } else if (i == layout.labelColumn()) {
        labelFromText(out, t);
      } else {
        out.features[k] = parseFeature(out, k, t);
        k++;
      }
    }
    return out.done();
  }

  /** A CSV line {@code label,f0,...} (an empty label field when {@code label} is null). */
  public static String toCsv(Long label, float[] features) {
    StringBuilder b = new StringBuilder();
    if (label != null) {
      b.append(label);
    }
    for (float x : features) {
      b.append(',').append(x);
    }
    return b.toString();
  }

  /** A JSON line {@code {"id":..,"label":..,"vector":[..]}}; non-finite values are written as strings. */
  public static String toJson(long id, Long label, float[] features) {
    StringBuilder b = new StringBuilder("{\"id\":").append(id).append(",\"label\":")
        .append(label == null ? "null" : label.toString()).append(",\"vector\":[");
    for (int i = 0; i < features.length; i++) {
      if (i > 0) {
        b.append(',');
      }
      float x = features[i];
      b.append(Float.isFinite(x) ? Float.toString(x) : "\"" + x + "\"");
    }
    return b.append("]}").toString();
  }

  /** Sets the label from its text (CSV field, JSON string), or marks a bad label; empty text is no label. */
  private static void labelFromText(Draft out, String text) {
    String t = text == null ? "" : text.trim();
    if (t.isEmpty()) {
      return;
    }
    try {
      out.label = Long.parseLong(t);
      return;
    } catch (NumberFormatException e) {
      // not an int64 literal: an integer beyond the range, a float, or text
    }
    if (t.matches("[+-]?[0-9]+")) {
      out.invalid(Rejection.BAD_LABEL, "label " + t + " is outside the int64 range");
    } else if (isNumber(t)) {
      String u = t.toLowerCase(Locale.ROOT);
      labelFromDouble(out, u.endsWith("nan") || u.endsWith("inf") || u.endsWith("infinity") ? Double.NaN
          : Double.parseDouble(t), t);
    } else {
      out.invalid(Rejection.BAD_LABEL, "label " + quote(t) + " is not a number");
    }
  }

  /** Sets the label from a float value written as {@code text}: integral and at most 2^53 in magnitude. */
  private static void labelFromDouble(Draft out, double d, String text) {
    if (!Double.isFinite(d) || d != Math.rint(d)) {
      out.invalid(Rejection.BAD_LABEL, "label " + text + " is not an integer");
    } else if (Math.abs(d) > MAX_FLOAT_LABEL) {
      out.invalid(Rejection.BAD_LABEL, "label " + text + " is a float beyond 2^53, which does not denote one "
          + "integer exactly; write it as an integer");
    } else {
      out.label = (long) d;
    }
  }

  /** A feature value from text: a number (NaN and Infinity included, rejected later as non-finite), else malformed. */
  private static float parseFeature(Draft out, int index, String t) {
    if (t.isEmpty()) {
      out.invalid(Rejection.MALFORMED, "feature " + index + " is empty");
      return Float.NaN;
    }
    if (!isNumber(t)) {
      out.invalid(Rejection.MALFORMED, "feature " + index + " is not a number: " + quote(t));
      return Float.NaN;
    }
    String u = t.toLowerCase(Locale.ROOT);
    if (u.endsWith("nan")) {
      return Float.NaN;
    }
    if (u.endsWith("inf") || u.endsWith("infinity")) {
      return u.startsWith("-") ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
    }
    return Float.parseFloat(t);
  }

  /**
   * Whether {@code t} is a decimal number (optionally signed, with fraction and exponent) or NaN / Infinity: what
   * the parsers read as a value. Java's own suffixes ({@code 1f}, {@code 2d}) and hex floats are not numbers here.
   */
  static boolean isNumber(String t) {
    return NUMBER.matcher(t).matches();
  }

  private static final Pattern NUMBER = Pattern.compile(
      "[+-]?(NaN|Infinity|inf|(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?)", Pattern.CASE_INSENSITIVE);

  private static String quote(String t) {
    String s = t.length() > 60 ? t.substring(0, 60) + "..." : t;
    return "'" + s + "'";
  }

  private static String unquote(String t) {
    return t.length() >= 2 && t.startsWith("\"") && t.endsWith("\"") ? t.substring(1, t.length() - 1) : t;
  }
}
