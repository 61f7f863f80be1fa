package org.pml4j.flink;

import java.util.Arrays;

/**
 * One shard's top-k for a query in one model version. A shard sends one per version it holds complete ({@link
 * #parts} of them); the {@link AnswerMerger} waits for all parts of all shards. A Flink POJO.
 */
public class ShardAnswer {
  public long qid;
  /** Wanted neighbours. */
  public int k;
  /** This shard's subtask index, and the number of shards. */
  public int shard;
  public int shards;
  /** How many answers (versions) this shard sends for the query. */
  public int parts;
  /** The model version of the query embedding and of every catalog embedding ranked. */
  public long version;
  /** Ids and scores (cosine), best first (score descending, then id ascending). */
  public long[] ids;
  public float[] scores;
  /** Catalog records the shard had applied when it answered. */
  public long catalogOps;
  /** Whether the query waited for this shard's first index version (start-up or restore). */
  public boolean waited;
  /** When the query entered the job (epoch ms). */
  public long queryInMillis;
  /** When this shard began to answer the query, and when it had answered it (epoch ms; the hops of its latency). */
  public long shardStartMillis;
  public long shardEndMillis;

  public ShardAnswer() {}

  @Override
  public String toString() {
    return "ShardAnswer{qid=" + qid + ", shard=" + shard + "/" + shards + ", part of " + parts + ", v" + version
        + ", ids=" + Arrays.toString(ids) + "}";
  }
}
