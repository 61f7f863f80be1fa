package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.co.CoBroadcastWithKeyedOperator;
import org.apache.flink.streaming.util.KeyedBroadcastOperatorTestHarness;
import org.junit.jupiter.api.Test;

/**
 * {@link RetrievalShard} in Flink's operator test harness: a snapshot taken while a new version is being built
 * (checked: the shard reports the build in progress before and after the snapshot), with upserts and deletes applied
 * during that build, restores into a shard that rebuilds the newest model from the raw items and answers only in that
 * version, exactly (brute force with the same ONNX model over the final items). With RocksDB and incremental
 * checkpoints, a checkpoint after a few changes writes a small part of what the first one wrote.
 */
class RetrievalShardHarnessTest {
  static final int DIM = 8;
  static final int K = 10;

  static KeyedBroadcastOperatorTestHarness<Long, CatalogRecord, ShardInput, ShardAnswer> harness(RetrievalShard fn)
      throws Exception {
    return new KeyedBroadcastOperatorTestHarness<>(
        new CoBroadcastWithKeyedOperator<>(fn, List.of(RetrievalShard.MODELS)), r -> r.id, Types.LONG, 128, 1, 0);
  }

  static void assertExact(byte[] onnx, Map<Long, float[]> items, float[] q, ShardAnswer a) {
    double[] scores = new double[K];
    long[] expected = RetrievalTestSupport.bruteForce(onnx, items, q, K, scores)[0];
    assertArrayEquals(expected, a.ids, a.toString());
    for (int i = 0; i < K; i++) {
      assertEquals(scores[i], a.scores[i], 1e-5);
    }
  }

  @Test
  void snapshotMidRebuildRestoresToCorrectAnswers() throws Exception {
    byte[] v0 = RetrievalTestSupport.onnxEncoder(DIM, 4, 1, 0);
    byte[] v1 = RetrievalTestSupport.onnxEncoder(DIM, 4, 2, 1);
    Random r = new Random(3);
    Map<Long, float[]> items = new LinkedHashMap<>();
    OperatorSubtaskState snap;
    RetrievalShard fn = new RetrievalShard(1, 2, 0); // 1 row per ONNX call: a rebuild takes a while
    try (var h = harness(fn)) {
      h.initializeEmptyState();
      h.open();
      long t = 1;
      for (long id = 0; id < 20_000; id++) {
        float[] v = RetrievalTestSupport.gaussian(r, DIM);
        items.put(id, v);
        h.processElement(CatalogRecord.upsert(id, v, null), t++);
      }
      h.processBroadcastElement(ShardInput.of(new ModelUpdate(0, 0, v0, Map.of(), 1L)), t++);
      float[] q0 = RetrievalTestSupport.gaussian(r, DIM);
      h.processBroadcastElement(ShardInput.of(new Query(100L, q0, K)), t++); // waits for v0
      List<ShardAnswer> out = h.extractOutputValues();
      assertEquals(1, out.size());
      assertEquals(0, out.get(0).version);
      assertExact(v0, items, q0, out.get(0));

      h.processBroadcastElement(ShardInput.of(new ModelUpdate(1, 10, v1, Map.of(), 2L)), t++);
      while (fn.index().embeddedIn(1) < 100) { // the build is under way (1 row per ONNX call: 20,000 calls)
        Thread.sleep(1);
      }
      // Holding the index's lock (the task thread's calls re-enter it) stops the builder at its next chunk: the
      // changes and the snapshot happen mid-build, whatever the machine's speed.
      synchronized (fn.index()) {
        assertEquals(1, fn.index().buildingVersion(), "v1 is being built");
        for (long id : new long[] {5, 19_999, 7_000}) {
          float[] v = RetrievalTestSupport.gaussian(r, DIM);
          items.put(id, v);
          h.processElement(CatalogRecord.upsert(id, v, null), t++);
        }
        for (long id : new long[] {6, 12_345}) {
          items.remove(id);
          h.processElement(CatalogRecord.delete(id), t++);
        }
        items.put(20_000L, RetrievalTestSupport.gaussian(r, DIM));
        h.processElement(CatalogRecord.upsert(20_000L, items.get(20_000L), null), t++);
        snap = h.snapshot(1, t++);
        assertEquals(1, fn.index().buildingVersion(), "the snapshot was taken while v1 was being built");
        assertArrayEquals(new long[] {0}, fn.index().completeVersions());
      }
    }
    RetrievalShard restored = new RetrievalShard(64, 2, 0);
    try (var h = harness(restored)) {
      h.initializeState(snap);
      h.open();
      assertEquals(0, restored.index().size(), "items come back from keyed state at the first broadcast input");
      float[] q = RetrievalTestSupport.gaussian(r, DIM);
      h.processBroadcastElement(ShardInput.of(new Query(101L, q, K)), 1);
      List<ShardAnswer> out = h.extractOutputValues();
      assertEquals(1, out.size(), "answers once the rebuild is complete, in the newest version only: " + out);
      assertEquals(1, out.get(0).version);
      assertEquals(1, out.get(0).parts);
      assertTrue(out.get(0).waited);
      assertExact(v1, items, q, out.get(0));
      assertEquals(items.size(), restored.index().size(), "raw items restored");
      assertEquals(items.size(), restored.index().embeddedIn(1));
      // The catalog record count is restored too.
      assertEquals(20_006, out.get(0).catalogOps);
    }
  }

  @Test
  void minRefreshIntervalSkipsVersionsCreatedTooSoon() throws Exception {
    byte[][] onnx = new byte[4][];
    for (int v = 0; v < 4; v++) {
      onnx[v] = RetrievalTestSupport.onnxEncoder(DIM, 4, 10 + v, v);
    }
    RetrievalShard fn = new RetrievalShard(16, 2, 1000);
    try (var h = harness(fn)) {
      h.initializeEmptyState();
      h.open();
      Random r = new Random(4);
      for (long id = 0; id < 50; id++) {
        h.processElement(CatalogRecord.upsert(id, RetrievalTestSupport.gaussian(r, DIM), null), id);
      }
      long[] created = {10_000, 10_400, 11_000, 11_500}; // v1: 400 ms after v0; v2: 1000 ms; v3: 500 ms after v2
      for (int v = 0; v < 4; v++) {
        h.processBroadcastElement(ShardInput.of(new ModelUpdate(v, v, onnx[v], Map.of(), created[v])), 100 + v);
      }
      assertTrue(fn.index().awaitVersion(2, 30_000));
      assertArrayEquals(new long[] {2, 0}, fn.index().completeVersions(), "v1 and v3 came too soon");
      assertEquals(java.util.Set.of(2L), keys(h), "only the newest indexed version is kept in broadcast state");
    }
  }

  @Test
  void incrementalCheckpointsWriteOnlyTheChangedItems() throws Exception {
    Random r = new Random(5);
    try (var h = harness(new RetrievalShard(64, 2, 0))) {
      EmbeddedRocksDBStateBackend rocks = new EmbeddedRocksDBStateBackend(true);
      rocks.setRocksDBOptions(new NoAutoCompaction());
      h.setStateBackend(rocks);
      h.initializeEmptyState();
      h.open();
      for (long id = 0; id < 5_000; id++) {
        h.processElement(CatalogRecord.upsert(id, RetrievalTestSupport.gaussian(r, DIM), null), id);
      }
      long[] first = sizes(h.snapshot(1, 10_000));
      h.notifyOfCompletedCheckpoint(1);
      for (long id = 0; id < 50; id++) { // 1 % of the items change
        h.processElement(CatalogRecord.upsert(id * 7, RetrievalTestSupport.gaussian(r, DIM), null), 10_001 + id);
      }
      h.processElement(CatalogRecord.delete(3L), 10_100);
      long[] second = sizes(h.snapshot(2, 10_200));
      assertTrue(first[0] > 5_000 * DIM * 4, "the first checkpoint holds every raw vector: " + first[0]);
      // The new SST files (the changes) and RocksDB's private files (its OPTIONS file alone is about 21 KB).
      assertTrue(second[0] < first[0] / 4, "the second writes the changes only: " + second[0] + " vs " + first[0]);
      assertTrue(second[1] >= first[1], "while the state it refers to is complete: " + second[1] + " vs " + first[1]);
    }
  }

  /**
   * RocksDB without background compactions, so that the test sees what a checkpoint writes for the changed items
   * alone: a compaction rewrites files, and the next checkpoint uploads the rewritten ones (in a job too).
   */
  static final class NoAutoCompaction implements org.apache.flink.state.rocksdb.RocksDBOptionsFactory {
    private static final long serialVersionUID = 1L;

    @Override
    public org.rocksdb.DBOptions createDBOptions(org.rocksdb.DBOptions o, java.util.Collection<AutoCloseable> h) {
      return o;
    }

    @Override
    public org.rocksdb.ColumnFamilyOptions createColumnOptions(org.rocksdb.ColumnFamilyOptions o,
        java.util.Collection<AutoCloseable> h) {
      return o.setDisableAutoCompactions(true);
    }
  }

  /** {written in this checkpoint, full size} of the keyed state of a snapshot. */
  static long[] sizes(OperatorSubtaskState s) {
    long written = 0;
    long full = 0;
    for (KeyedStateHandle k : s.getManagedKeyedState()) {
      written += k.getCheckpointedSize();
      full += k.getStateSize();
    }
    return new long[] {written, full};
  }

  static java.util.Set<Long> keys(KeyedBroadcastOperatorTestHarness<Long, CatalogRecord, ShardInput, ShardAnswer> h)
      throws Exception {
    java.util.Set<Long> k = new java.util.TreeSet<>();
    for (var e : h.getBroadcastState(RetrievalShard.MODELS).entries()) {
      k.add(e.getKey());
    }
    return k;
  }
}
