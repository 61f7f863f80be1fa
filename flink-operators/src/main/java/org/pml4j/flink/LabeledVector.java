package org.pml4j.flink;

import java.util.Arrays;
import java.util.Objects;

/**
 * One input record: an id, a class label (null when the record has none) and a feature vector.
 *
 * <p>A Flink POJO (public no-arg constructor, public fields of POJO-supported types), so Flink serializes it with its
 * own POJO serializer and never falls back to Kryo.
 */
public class LabeledVector {
  /** Record id, unique within a stream (the position in a generated or file stream, or the record's own id). */
  public long id;
  /** Class label; null when the record has none (rejected by validation on a training stream). */
  public Long label;
  /** Features; flattened per-sample input of the encoder. */
  public float[] features;
  /**
   * Why the parser could not read the record (a {@link RejectedRecord} reason code: {@code malformed},
   * {@code bad_label}), or null for a record it could read; {@link ValidateFunction} rejects the record with it.
   */
  public String parseReason;
  /** The parser's detail for {@link #parseReason} ("label 99999999999999999999 is outside the int64 range"). */
  public String parseDetail;

  public LabeledVector() {}

  public LabeledVector(long id, Long label, float[] features) {
    this.id = id;
    this.label = label;
    this.features = features;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LabeledVector v && v.id == id && Objects.equals(v.label, label)
        && Arrays.equals(v.features, features) && Objects.equals(v.parseReason, parseReason)
        && Objects.equals(v.parseDetail, parseDetail);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, label) * 31 + Arrays.hashCode(features);
  }

  @Override
  public String toString() {
    return "LabeledVector{id=" + id + ", label=" + label + ", dim=" + (features == null ? "null" : features.length)
        + "}";
  }
}
