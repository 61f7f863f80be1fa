package org.pml4j.flink;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Checks catalog records and queries before they reach the shards; a bad one goes to the side output
 * {@link ValidateFunction#REJECTED} as a {@link RejectedRecord} (its {@code record} carries the id, -1 when missing,
 * and the vector) with a reason, and is counted ({@code rejected} metric); the job goes on.
 *
 * <p>Reasons: {@link RejectedRecord#MISSING_FEATURES}, {@link RejectedRecord#WRONG_DIMENSION},
 * {@link RejectedRecord#NON_FINITE}, {@link #MISSING_ID}, {@link #K_OUT_OF_RANGE}, {@link #BAD_OP}.
 */
public final class RetrievalValidation {
  /** A catalog record or query without an id. */
  public static final String MISSING_ID = "missing_id";
  /** A query whose k is not in 1..max_k. */
  public static final String K_OUT_OF_RANGE = "k_out_of_range";
  /** A catalog record whose op is neither upsert nor delete. */
  public static final String BAD_OP = "bad_op";

  private RetrievalValidation() {}

  /** The reason a vector is bad ({@code null}: good), with its detail in {@code detail[0]}. */
  static String vectorReason(float[] v, int dimension, String[] detail) {
    if (v == null) {
      detail[0] = "no vector";
      return RejectedRecord.MISSING_FEATURES;
    }
    if (v.length != dimension) {
      detail[0] = "expected " + dimension + " values, got " + v.length;
      return RejectedRecord.WRONG_DIMENSION;
    }
    for (int i = 0; i < v.length; i++) {
      if (!Float.isFinite(v[i])) {
        detail[0] = "value " + i + " is " + v[i];
        return RejectedRecord.NON_FINITE;
      }
    }
    return null;
  }

  /** Validates catalog records: id present, op upsert|delete (null = upsert), an upsert's vector good. */
  public static final class Catalog extends ProcessFunction<CatalogRecord, CatalogRecord> {
    private static final long serialVersionUID = 1L;
    private final int dimension;
    private transient Counter rejected;

    /** @param dimension values per raw vector */
    public Catalog(int dimension) {
      if (dimension < 1) {
        throw new IllegalArgumentException("dimension must be >= 1, got " + dimension);
      }
      this.dimension = dimension;
    }

    @Override
    public void open(OpenContext ctx) {
      rejected = getRuntimeContext().getMetricGroup().counter("rejected");
    }

    @Override
    public void processElement(CatalogRecord r, Context ctx, Collector<CatalogRecord> out) {
      String[] detail = new String[1];
      String reason = null;
      if (r.parseReason != null) {
        reason = r.parseReason;
        detail[0] = r.parseDetail;
      } else if (r.id == null) {
        reason = MISSING_ID;
        detail[0] = "catalog record without id";
      } else if (r.op != null && !CatalogRecord.UPSERT.equals(r.op) && !CatalogRecord.DELETE.equals(r.op)) {
        reason = BAD_OP;
        detail[0] = "op must be upsert or delete, got " + r.op;
      } else if (!r.isDelete()) {
        reason = vectorReason(r.vector, dimension, detail);
      }
      if (reason == null) {
        out.collect(r);
      } else {
        rejected.inc();
        ctx.output(ValidateFunction.REJECTED, new RejectedRecord(
            new LabeledVector(r.id == null ? -1 : r.id, r.label, r.vector), reason, "catalog: " + detail[0]));
      }
    }
  }

  /** Validates queries: qid present, vector good, 1 <= k <= maxK; stamps {@link Query#inMillis}. */
  public static final class Queries extends ProcessFunction<Query, Query> {
    private static final long serialVersionUID = 1L;
    private final int dimension;
    private final int maxK;
    private transient Counter rejected;

    /**
     * @param dimension values per raw vector
     * @param maxK the largest k accepted
     */
    public Queries(int dimension, int maxK) {
      if (dimension < 1) {
        throw new IllegalArgumentException("dimension must be >= 1, got " + dimension);
      }
      if (maxK < 1) {
        throw new IllegalArgumentException("maxK must be >= 1, got " + maxK);
      }
      this.dimension = dimension;
      this.maxK = maxK;
    }

    @Override
    public void open(OpenContext ctx) {
      rejected = getRuntimeContext().getMetricGroup().counter("rejected");
    }

    @Override
    public void processElement(Query q, Context ctx, Collector<Query> out) {
      String[] detail = new String[1];
      String reason = null;
      if (q.parseReason != null) {
        reason = q.parseReason;
        detail[0] = q.parseDetail;
      } else if (q.qid == null) {
        reason = MISSING_ID;
        detail[0] = "query without qid";
      } else if (q.k < 1 || q.k > maxK) {
        reason = K_OUT_OF_RANGE;
        detail[0] = "k must be in 1.." + maxK + ", got " + q.k;
      } else {
        reason = vectorReason(q.vector, dimension, detail);
      }
      if (reason == null) {
        if (q.inMillis == 0) {
          q.inMillis = System.currentTimeMillis();
        }
        out.collect(q);
      } else {
        rejected.inc();
        ctx.output(ValidateFunction.REJECTED, new RejectedRecord(
            new LabeledVector(q.qid == null ? -1 : q.qid, null, q.vector), reason, "query: " + detail[0]));
      }
    }
  }
}
