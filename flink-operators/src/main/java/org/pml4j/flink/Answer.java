package org.pml4j.flink;

import java.util.Arrays;
import java.util.Objects;

/**
 * The answer to a {@link Query}: {@code {qid, model_version, ids, scores}}, entirely in one model version (the query's
 * embedding and every catalog embedding ranked come from {@link #modelVersion}). A Flink POJO.
 */
public class Answer {
  public long qid;
  /** The model version of the whole answer (-1 on an answer that could not be given, see {@link AnswerMerger}). */
  public long modelVersion;
  /** The top-k ids, best first (cosine score descending, then id ascending). */
  public long[] ids;
  /** Their cosine scores. */
  public float[] scores;
  /** Catalog records applied by all shards together when they answered. */
  public long catalogOps;
  /** Whether some shard made the query wait for its first index version (start-up or restore). */
  public boolean waited;
  /** When the query entered the job, and when the answer was complete (epoch ms). */
  public long queryInMillis;
  public long answeredAtMillis;
  /**
   * The hops of the latency (ms): query in to the last shard beginning to answer it (the way to the shards and the
   * wait in their input queues), the longest a shard took to answer it.
   */
  public long toShardMillis;
  public long inShardMillis;

  public Answer() {}

  public Answer(long qid, long modelVersion, long[] ids, float[] scores) {
    this.qid = qid;
    this.modelVersion = modelVersion;
    this.ids = ids;
    this.scores = scores;
  }

  /** The answer as one JSON line: {@code {"qid":…,"model_version":…,"ids":[…],"scores":[…]}}. */
  public String toJson() {
    StringBuilder b = new StringBuilder("{\"qid\":").append(qid).append(",\"model_version\":").append(modelVersion)
        .append(",\"ids\":").append(Arrays.toString(ids).replace(" ", "")).append(",\"scores\":[");
    for (int i = 0; i < scores.length; i++) {
      b.append(i == 0 ? "" : ",").append(scores[i]);
    }
    return b.append("],\"latency_ms\":").append(answeredAtMillis - queryInMillis).append(",\"catalog_ops\":")
        .append(catalogOps).append(",\"in_ms\":").append(queryInMillis).append(",\"waited\":").append(waited)
        .append(",\"to_shard_ms\":").append(toShardMillis).append(",\"in_shard_ms\":").append(inShardMillis)
        .append('}').toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Answer a && a.qid == qid && a.modelVersion == modelVersion && Arrays.equals(a.ids, ids)
        && Arrays.equals(a.scores, scores);
  }

  @Override
  public int hashCode() {
    return Objects.hash(qid, modelVersion) * 31 + Arrays.hashCode(ids);
  }

  @Override
  public String toString() {
    return "Answer{qid=" + qid + ", v" + modelVersion + ", ids=" + Arrays.toString(ids) + "}";
  }
}
