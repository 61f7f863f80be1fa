package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The Flink-free shard index with real ONNX Runtime encoders: exact answers per version, ties, updates during a
 * rebuild, retained versions. */
class VersionedIndexTest {
  static final int DIM = 8;
  static final int EMB = 4;
  static final byte[] V0 = RetrievalTestSupport.onnxEncoder(DIM, EMB, 1, 0);
  static final byte[] V1 = RetrievalTestSupport.onnxEncoder(DIM, EMB, 2, 1);
  static final byte[] V2 = RetrievalTestSupport.onnxEncoder(DIM, EMB, 3, 2);

  static void assertExact(byte[] onnx, Map<Long, float[]> items, float[] q, int k, VersionHits h) {
    double[] expectedScores = new double[k];
    long[] expected = RetrievalTestSupport.bruteForce(onnx, items, q, k, expectedScores)[0];
    assertArrayEquals(expected, h.ids(), "version " + h.version());
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expectedScores[i], h.scores()[i], 1e-5, "score " + i + " in version " + h.version());
    }
  }

  @Test
  void answersEqualBruteForceInEachVersionItHolds() throws Exception {
    Random r = new Random(5);
    Map<Long, float[]> items = new LinkedHashMap<>();
    try (VersionedIndex index = new VersionedIndex(64, 2, null, BackgroundPriority.NORMAL)) {
      for (long id = 0; id < 500; id++) {
        float[] v = RetrievalTestSupport.gaussian(r, DIM);
        items.put(id * 3, v);
        index.upsert(id * 3, v, null);
      }
      assertEquals(List.of(), index.search(items.get(0L), 5), "no version yet: nothing to answer with");
      assertTrue(index.addVersion(0, RetrievalTestSupport.ort(V0)));
      assertTrue(index.addVersion(1, RetrievalTestSupport.ort(V1)));
      assertTrue(index.awaitVersion(1, 30_000));
      assertArrayEquals(new long[] {1, 0}, index.completeVersions());
      for (int t = 0; t < 20; t++) {
        float[] q = RetrievalTestSupport.gaussian(r, DIM);
        List<VersionHits> hits = index.search(q, 10);
        assertEquals(2, hits.size());
        assertExact(V1, items, q, 10, hits.get(0));
        assertExact(V0, items, q, 10, hits.get(1));
        assertFalse(java.util.Arrays.equals(hits.get(0).ids(), hits.get(1).ids()) && t == 0
            && java.util.Arrays.equals(hits.get(0).scores(), hits.get(1).scores()), "the versions differ");
      }
      // k above the item count: every item, ranked.
      assertEquals(500, index.search(items.get(0L), 10_000).get(0).ids().length);
      // A replayed (older or equal) version is ignored.
      assertFalse(index.addVersion(1, RetrievalTestSupport.ort(V1)));
      // Retained: 2 newest complete versions.
      assertTrue(index.addVersion(2, RetrievalTestSupport.ort(V2)));
      assertTrue(index.awaitVersion(2, 30_000));
      assertArrayEquals(new long[] {2, 1}, index.completeVersions());
      assertThrows(IllegalArgumentException.class, () -> index.search(items.get(0L), 0));
    }
  }

  @Test
  void equalScoresAreOrderedById() throws Exception {
    try (VersionedIndex index = new VersionedIndex(4, 1, null, BackgroundPriority.NORMAL)) {
      float[] same = RetrievalTestSupport.gaussian(new Random(1), DIM);
      for (long id : new long[] {9, 3, 7, 12, 5}) {
        index.upsert(id, same, null);
      }
      index.upsert(100, RetrievalTestSupport.gaussian(new Random(2), DIM), null);
      index.addVersion(0, RetrievalTestSupport.ort(V0));
      assertTrue(index.awaitComplete(30_000));
      VersionHits h = index.search(same, 4).get(0);
      assertArrayEquals(new long[] {3, 5, 7, 9}, h.ids());
      assertEquals(h.scores()[0], h.scores()[3]);
      assertEquals(1.0, h.scores()[0], 1e-5);
    }
  }

  @Test
  void thePreviousVersionIsAnsweredForTheGracePeriodOnly() throws Exception {
    try (VersionedIndex index = new VersionedIndex(64, 2, null, BackgroundPriority.NORMAL)) {
      Random r = new Random(21);
      for (long id = 0; id < 50; id++) {
        index.upsert(id, RetrievalTestSupport.gaussian(r, DIM), null);
      }
      index.previousVersionGrace(2_000);
      index.addVersion(0, RetrievalTestSupport.ort(V0));
      assertTrue(index.awaitVersion(0, 30_000));
      index.addVersion(1, RetrievalTestSupport.ort(V1));
      assertTrue(index.awaitVersion(1, 30_000));
      long swapped = System.nanoTime();
      float[] q = RetrievalTestSupport.gaussian(r, DIM);
      List<VersionHits> during = index.search(q, 5);
      if (System.nanoTime() - swapped < 1_900_000_000L) { // (a loaded machine may take longer to get here)
        assertEquals(List.of(1L, 0L), during.stream().map(VersionHits::version).toList());
      }
      Thread.sleep(2_100);
      assertEquals(List.of(1L), index.search(q, 5).stream().map(VersionHits::version).toList());
      index.previousVersionGrace(-1); // for as long as it is retained
      assertEquals(2, index.search(q, 5).size());
      assertThrows(IllegalArgumentException.class, () -> index.previousVersionGrace(-2));
    }
  }

  /** Blocks the builder thread inside its second chunk until released. */
  static final class Gate implements VersionedIndex.Encoder {
    final VersionedIndex.Encoder inner;
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger builderCalls = new AtomicInteger();

    Gate(VersionedIndex.Encoder inner) {
      this.inner = inner;
    }

    @Override
    public float[][] embed(float[][] rows) {
      if (Thread.currentThread().getName().startsWith("pml4j-retrieval-index-builder")
          && builderCalls.incrementAndGet() == 2) {
        entered.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return inner.embed(rows);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  @Test
  void upsertsAndDeletesDuringARebuildReachBothVersions() throws Exception {
    Random r = new Random(11);
    Map<Long, float[]> items = new LinkedHashMap<>();
    List<Long> refreshes = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (VersionedIndex index = new VersionedIndex(50, 2, (v, ms, build, cpu) -> refreshes.add(ms),
        BackgroundPriority.NORMAL)) {
      for (long id = 0; id < 400; id++) {
        float[] v = RetrievalTestSupport.gaussian(r, DIM);
        items.put(id, v);
        index.upsert(id, v, id % 3);
      }
      index.addVersion(0, RetrievalTestSupport.ort(V0));
      assertTrue(index.awaitVersion(0, 30_000));
      Gate gate = new Gate(RetrievalTestSupport.ort(V1));
      index.addVersion(1, gate);
      assertTrue(gate.entered.await(30, TimeUnit.SECONDS));
      assertEquals(1, index.buildingVersion());
      // During the rebuild (chunk 1 of 8 is committed, chunk 2 is being embedded from the old raw vectors):
      // replace items in chunk 1 (committed), chunk 2 (in flight) and later chunks; delete some; add new ones.
      for (long id : new long[] {3, 60, 77, 390}) {
        float[] v = RetrievalTestSupport.gaussian(r, DIM);
        items.put(id, v);
        index.upsert(id, v, null);
      }
      for (long id : new long[] {5, 55, 99, 300}) {
        items.remove(id);
        assertTrue(index.delete(id));
      }
      for (long id = 1000; id < 1010; id++) {
        float[] v = RetrievalTestSupport.gaussian(r, DIM);
        items.put(id, v);
        index.upsert(id, v, null);
      }
      assertFalse(index.delete(123456));
      // The serving version answers meanwhile, with the changes applied.
      float[] q0 = RetrievalTestSupport.gaussian(r, DIM);
      List<VersionHits> during = index.search(q0, items.size());
      assertEquals(1, during.size());
      assertExact(V0, items, q0, items.size(), during.get(0));
      gate.release.countDown();
      assertTrue(index.awaitVersion(1, 30_000));
      assertEquals(items.size(), index.embeddedIn(1));
      assertEquals(items.size(), index.embeddedIn(0));
      assertEquals(items.size(), index.size());
      for (int t = 0; t < 10; t++) {
        float[] q = t == 0 ? items.get(60L) : RetrievalTestSupport.gaussian(r, DIM);
        List<VersionHits> hits = index.search(q, items.size()); // every item: no stale vector
        assertExact(V1, items, q, items.size(), hits.get(0));
        assertExact(V0, items, q, items.size(), hits.get(1));
      }
      assertEquals(2, refreshes.size());
      assertTrue(refreshes.stream().allMatch(ms -> ms >= 0), refreshes.toString());
    }
  }
}
