package org.pml4j.flink;

import java.util.Arrays;
import java.util.Objects;

/**
 * One change to the retrieval catalog: {@code {id, vector, label?, op: upsert|delete}}. The vector is the raw input of
 * the encoder (kept in the shard's state, so the item can be re-embedded by every model version).
 *
 * <p>A Flink POJO (null fields allowed).
 */
public class CatalogRecord {
  /** {@link #op} of an insert or replacement. */
  public static final String UPSERT = "upsert";
  /** {@link #op} of a removal (the vector may be null). */
  public static final String DELETE = "delete";

  /** Item id (null: rejected as {@code missing_id}). */
  public Long id;
  /** The raw vector (the encoder's input); null on a delete. */
  public float[] vector;
  /** Optional class label. */
  public Long label;
  /** {@link #UPSERT} (also when null) or {@link #DELETE}. */
  public String op;
  /** Why the record could not be read (a {@link RejectedRecord} reason; null: it could), and the detail. */
  public String parseReason;
  public String parseDetail;

  public CatalogRecord() {}

  public CatalogRecord(Long id, float[] vector, Long label, String op) {
    this.id = id;
    this.vector = vector;
    this.label = label;
    this.op = op;
  }

  /** An insert or replacement. */
  public static CatalogRecord upsert(long id, float[] vector, Long label) {
    return new CatalogRecord(id, vector, label, UPSERT);
  }

  /** A removal. */
  public static CatalogRecord delete(long id) {
    return new CatalogRecord(id, null, null, DELETE);
  }

  /** Whether this record removes its item. */
  public boolean isDelete() {
    return DELETE.equals(op);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CatalogRecord r && Objects.equals(r.id, id) && Arrays.equals(r.vector, vector)
        && Objects.equals(r.label, label) && Objects.equals(r.op, op);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, label, op) * 31 + Arrays.hashCode(vector);
  }

  @Override
  public String toString() {
    return "CatalogRecord{id=" + id + ", op=" + op + ", dim=" + (vector == null ? "null" : vector.length) + "}";
  }
}
