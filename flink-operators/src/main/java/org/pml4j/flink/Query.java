package org.pml4j.flink;

import java.util.Arrays;
import java.util.Objects;

/**
 * A retrieval query {@code {qid, vector, k}}: the raw vector (the encoder's input) and the number of neighbours wanted.
 *
 * <p>A Flink POJO.
 */
public class Query {
  /** Query id (null: rejected as {@code missing_id}); unique within the query stream. */
  public Long qid;
  /** The raw query vector. */
  public float[] vector;
  /** Neighbours wanted, 1 to the job's {@code retrieval.max_k}. */
  public int k;
  /** Wall-clock time (epoch ms) when the query entered the job (set by validation): the start of its latency. */
  public long inMillis;
  /** Why the query could not be read (a {@link RejectedRecord} reason; null: it could), and the detail. */
  public String parseReason;
  public String parseDetail;

  public Query() {}

  public Query(Long qid, float[] vector, int k) {
    this.qid = qid;
    this.vector = vector;
    this.k = k;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Query q && Objects.equals(q.qid, qid) && Arrays.equals(q.vector, vector) && q.k == k
        && q.inMillis == inMillis;
  }

  @Override
  public int hashCode() {
    return Objects.hash(qid, k, inMillis) * 31 + Arrays.hashCode(vector);
  }

  @Override
  public String toString() {
    return "Query{qid=" + qid + ", k=" + k + ", dim=" + (vector == null ? "null" : vector.length) + "}";
  }
}
