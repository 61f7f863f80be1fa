package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.operators.ProcessOperator;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/** {@link GlobalBatchCutter}'s output: whole global batches, each replica's shard in order, the shards interleaved. */
class GlobalBatchCutterTest {
  @Test
  void emitsWholeGlobalBatchesWithTheShardsInterleavedAndEachShardInOrder() throws Exception {
    try (OneInputStreamOperatorTestHarness<LabeledVector, Tuple2<Integer, LabeledVector>> h =
        new OneInputStreamOperatorTestHarness<>(new ProcessOperator<>(new GlobalBatchCutter(2, 3, 2)))) {
      h.open();
      for (long id = 0; id < 8; id++) { // a global batch of 6, then 2 pending
        h.processElement(new LabeledVector(id, id % 3, new float[] {id, 1f}), 0L);
      }
      h.processElement(new LabeledVector(99, null, new float[] {1f, 1f}), 0L); // no label: dropped, not counted
      List<Integer> replicas = new ArrayList<>();
      List<Long> ids = new ArrayList<>();
      for (Tuple2<Integer, LabeledVector> t : h.extractOutputValues()) {
        replicas.add(t.f0);
        ids.add(t.f1.id);
      }
      // Shards as one trainer at batch 6 would see them: replica 0 gets records 0-2, replica 1 records 3-5; emitted
      // record j of every shard at a time, so no replica's records wait behind a whole shard of another's (the
      // deadlock of a replica blocked in a collective while its peer's records queue behind its own).
      assertEquals(List.of(0, 1, 0, 1, 0, 1), replicas);
      assertEquals(List.of(0L, 3L, 1L, 4L, 2L, 5L), ids);
    }
  }
}
