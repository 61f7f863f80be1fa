package org.pml4j.flink;

import java.util.Arrays;
import java.util.Objects;

/**
 * An embedded query or catalog record, tagged with the version of the model that embedded it.
 *
 * <p>A Flink POJO.
 */
public class Embedding {
  /** The input record's id. */
  public long id;
  /** The embedding. */
  public float[] vector;
  /** Version of the model ({@link ModelUpdate#version}) that produced {@link #vector}. */
  public long modelVersion;
  /** The input record's label, carried along for evaluation (null when it had none). */
  public Long label;

  public Embedding() {}

  public Embedding(long id, float[] vector, long modelVersion) {
    this(id, vector, modelVersion, null);
  }

  public Embedding(long id, float[] vector, long modelVersion, Long label) {
    this.id = id;
    this.vector = vector;
    this.modelVersion = modelVersion;
    this.label = label;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Embedding e && e.id == id && e.modelVersion == modelVersion && Objects.equals(e.label, label)
        && Arrays.equals(e.vector, vector);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, modelVersion, label) * 31 + Arrays.hashCode(vector);
  }

  @Override
  public String toString() {
    return "Embedding{id=" + id + ", modelVersion=" + modelVersion + ", dim="
        + (vector == null ? "null" : vector.length) + "}";
  }
}
