package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The merge of shard answers: waits for all parts, picks the newest common version, merges ties by id. */
class AnswerMergerTest {
  static ShardAnswer part(int shard, int parts, long version, long[] ids, float[] scores) {
    ShardAnswer a = new ShardAnswer();
    a.qid = 7;
    a.k = 3;
    a.shard = shard;
    a.shards = 2;
    a.parts = parts;
    a.version = version;
    a.ids = ids;
    a.scores = scores;
    a.catalogOps = 10 + shard;
    return a;
  }

  @Test
  void newestCommonVersionAndDeterministicTies() {
    ShardAnswer a5 = part(0, 2, 5, new long[] {8, 2}, new float[] {0.9f, 0.5f});
    ShardAnswer a4 = part(0, 2, 4, new long[] {8, 2}, new float[] {0.1f, 0.1f});
    ShardAnswer b4 = part(1, 2, 4, new long[] {3, 1}, new float[] {0.1f, 0.05f});
    ShardAnswer b3 = part(1, 2, 3, new long[] {3, 1}, new float[] {0.7f, 0.6f});
    assertNull(AnswerMerger.merge(List.of(a5, a4, b4)), "shard 1 has sent 1 of 2 parts");
    Answer m = AnswerMerger.merge(List.of(a5, b4, b3, a4));
    assertEquals(4, m.modelVersion, "v5 is on shard 0 only; v4 is the newest on both");
    assertArrayEquals(new long[] {2, 3, 8}, m.ids, "equal scores 0.1: ids ascending");
    assertArrayEquals(new float[] {0.1f, 0.1f, 0.1f}, m.scores);
    assertEquals(21, m.catalogOps);
  }

  @Test
  void noCommonVersionIsNeverMixed() {
    Answer m = AnswerMerger.merge(List.of(part(0, 1, 6, new long[] {1}, new float[] {1f}),
        part(1, 1, 4, new long[] {2}, new float[] {1f})));
    assertEquals(-1, m.modelVersion);
    assertEquals(0, m.ids.length);
    assertTrue(m.toJson().contains("\"model_version\":-1"));
  }
}
