package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.data.SyntheticClusters;
import org.pml4j.onnx.OnnxEncoder;

/**
 * The retrieval index on a MiniCluster, 2 shards, fed by the real trainer's model versions: every answer is in one
 * version (its scores are those of the query and the returned items embedded by that version's ONNX model), answers
 * given after the whole catalog (inserts, replacements, deletes) was applied equal an exact k-NN over the final
 * catalog with that version's ONNX model, bad records are rejected with reasons; with a failure injected while
 * versions are being indexed the restored job answers correctly.
 */
class RetrievalJobTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  @TempDir
  Path tmp;

  static final int DIM = 8;
  static final int ITEMS = 400;
  static final int REPLACED = 100;
  static final int DELETED = 100;
  static final int CATALOG = ITEMS + REPLACED + DELETED;
  static final int BAD_CATALOG = 4;
  static final int QUERIES = 200;
  static final int K = 5;
  /** Scores closer than this are a tie between the index (float) and the brute force (double). */
  static final double TIE = 1e-6;
  static final GeneratedRecords GEN =
      GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.4, 1.0, 9), 0, 0);
  static final long QUERY_OFFSET = 1_000_000;

  /** Catalog record i: inserts of ids 0..399, then replacements of ids 0,3,6,…, deletes of 1,4,7,…, then bad ones. */
  static final class ToCatalog implements MapFunction<LabeledVector, CatalogRecord> {
    private static final long serialVersionUID = 1L;

    @Override
    public CatalogRecord map(LabeledVector v) {
      return catalog(v);
    }
  }

  static CatalogRecord catalog(LabeledVector v) {
    long i = v.id;
    if (i < ITEMS) {
      return CatalogRecord.upsert(i, v.features, v.label);
    } else if (i < ITEMS + REPLACED) {
      return CatalogRecord.upsert((i - ITEMS) * 3, v.features, v.label);
    } else if (i < CATALOG) {
      return CatalogRecord.delete((i - ITEMS - REPLACED) * 3 + 1);
    }
    return switch ((int) (i - CATALOG)) {
      case 0 -> CatalogRecord.upsert(i, new float[DIM - 1], null);
      case 1 -> {
        float[] f = v.features.clone();
        f[2] = Float.NaN;
        yield CatalogRecord.upsert(i, f, null);
      }
      case 2 -> new CatalogRecord(null, v.features, null, CatalogRecord.UPSERT);
      default -> new CatalogRecord(i, v.features, null, "merge");
    };
  }

  /** Query q: k = 5, except q = 7 (k = 0), q = 8 (k = 1000) and q = 9 (an infinite value). */
  static final class ToQuery implements MapFunction<LabeledVector, Query> {
    private static final long serialVersionUID = 1L;

    @Override
    public Query map(LabeledVector v) {
      return query(v);
    }
  }

  static Query query(LabeledVector v) {
    long q = v.id - QUERY_OFFSET;
    float[] f = v.features.clone();
    if (q == 9) {
      f[0] = Float.POSITIVE_INFINITY;
    }
    return new Query(q, f, q == 7 ? 0 : q == 8 ? 1000 : K);
  }

  JobExecutionResult run(String key, boolean injectFailure) throws Exception {
    StreamExecutionEnvironment env = TestSupport.env(tmp.resolve("chk-" + key), 150, injectFailure ? 3 : 0);
    DataStream<LabeledVector> train = env.fromSource(Sources.generated(GEN.withIdOffset(5_000_000), 640, 200),
        WatermarkStrategy.noWatermarks(), "train").uid("train");
    DataStream<ModelUpdate> models = TrainerOperator.apply(train, TrainerFactory.DEFAULT,
        TestSupport.tinyConfig(DIM, 4, 2), TrainerOperator.Settings.of(32, 5));
    models.sinkTo(TestSupport.collect(key + "-models"));
    DataStream<LabeledVector> rawCatalog = env.fromSource(Sources.generated(GEN, CATALOG + BAD_CATALOG, 150),
        WatermarkStrategy.noWatermarks(), "catalog").uid("catalog");
    if (injectFailure) {
      rawCatalog = rawCatalog.map(new TestSupport.FailOnce(tmp, Set.of(350L))).uid("fail-once");
    }
    DataStream<CatalogRecord> catalog = rawCatalog.map(new ToCatalog()).uid("to-catalog");
    DataStream<Query> queries = env.fromSource(Sources.generated(GEN.withIdOffset(QUERY_OFFSET), QUERIES, 30),
        WatermarkStrategy.noWatermarks(), "queries").uid("queries").map(new ToQuery()).uid("to-query");
    if (injectFailure) { // as the job: the raw items in RocksDB, incremental and unaligned checkpoints (the plain run:
      // the heap backend, aligned)
      org.apache.flink.configuration.Configuration backend = new org.apache.flink.configuration.Configuration();
      backend.set(org.apache.flink.configuration.StateBackendOptions.STATE_BACKEND, "rocksdb");
      backend.set(org.apache.flink.configuration.CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
      backend.set(org.apache.flink.configuration.CheckpointingOptions.ENABLE_UNALIGNED, true);
      env.configure(backend);
    }
    Retrieval.Settings s = new Retrieval.Settings(DIM, 2, 100, 16, 2, 0,
        injectFailure ? BackgroundPriority.LOW : BackgroundPriority.NORMAL, -1);
    Retrieval.Outputs o = Retrieval.apply(catalog, queries, models, s);
    o.answers().sinkTo(TestSupport.collect(key + "-answers"));
    o.noCommonVersion().sinkTo(TestSupport.collect(key + "-nocommon"));
    o.rejected().sinkTo(TestSupport.collect(key + "-rejected"));
    return env.execute("retrieval-" + key);
  }

  @Test
  void everyAnswerIsInOneVersionAndExact() throws Exception {
    JobExecutionResult r = run("plain", false);
    check("plain", false);
    Object acc = r.getAllAccumulatorResults().get(RetrievalShard.REFRESHES_ACCUMULATOR);
    assertTrue(acc instanceof List<?> l && !l.isEmpty()
        && l.stream().allMatch(x -> x.toString().matches("\\d+(:\\d+){6}")), "refresh times recorded: " + acc);
    Object lat = r.getAllAccumulatorResults().get(AnswerMerger.LATENCY_ACCUMULATOR);
    assertTrue(lat instanceof TreeMap<?, ?> m
        && m.values().stream().mapToInt(x -> (Integer) x).sum() == QUERIES - 3, "latencies: " + lat);
  }

  @Test
  void aFailureWhileVersionsAreIndexedRestoresToCorrectAnswers() throws Exception {
    run("failed", true);
    assertTrue(tmp.resolve("failed-350").toFile().exists(), "the failure was injected");
    check("failed", true);
  }

  void check(String key, boolean restarted) {
    Map<Long, byte[]> onnx = new HashMap<>();
    for (ModelUpdate m : TestSupport.<ModelUpdate>collected(key + "-models")) {
      onnx.put(m.version, m.onnx);
    }
    assertEquals(Set.of(0L, 1L, 2L, 3L, 4L), onnx.keySet());
    // Every raw vector an id ever had, and the final catalog.
    Map<Long, List<float[]>> everRaw = new HashMap<>();
    Map<Long, float[]> finalCatalog = new LinkedHashMap<>();
    for (long i = 0; i < CATALOG; i++) {
      CatalogRecord c = catalog(GEN.map(i));
      if (c.isDelete()) {
        finalCatalog.remove(c.id);
      } else {
        finalCatalog.put(c.id, c.vector);
        everRaw.computeIfAbsent(c.id, x -> new ArrayList<>()).add(c.vector);
      }
    }
    assertEquals(ITEMS - DELETED, finalCatalog.size());

    List<RejectedRecord> rejected = TestSupport.collected(key + "-rejected");
    Map<String, Integer> reasons = new TreeMap<>();
    Set<String> distinct = new HashSet<>();
    for (RejectedRecord rr : rejected) {
      if (distinct.add(rr.record.id + rr.reason + rr.detail)) {
        reasons.merge(rr.reason, 1, Integer::sum);
      }
    }
    assertEquals(Map.of(RejectedRecord.WRONG_DIMENSION, 1, RejectedRecord.NON_FINITE, 2,
        RetrievalValidation.MISSING_ID, 1, RetrievalValidation.BAD_OP, 1, RetrievalValidation.K_OUT_OF_RANGE, 2),
        reasons, rejected.toString());

    assertEquals(List.of(), TestSupport.collected(key + "-nocommon"), "every query had a common version");
    List<Answer> answers = TestSupport.collected(key + "-answers");
    Map<Long, Answer> byQid = new TreeMap<>();
    answers.forEach(a -> byQid.put(a.qid, a));
    assertEquals(QUERIES - 3, byQid.size(), "every valid query answered");
    if (!restarted) {
      assertEquals(QUERIES - 3, answers.size(), "answered once");
    }
    Map<Long, OnnxEncoder> enc = new HashMap<>();
    int exact = 0;
    int mixed = 0;
    Set<Long> versions = new HashSet<>();
    try {
      for (Answer a : answers) {
        assertTrue(onnx.containsKey(a.modelVersion), "a published version: " + a);
        versions.add(a.modelVersion);
        OnnxEncoder e = enc.computeIfAbsent(a.modelVersion, v -> OnnxEncoder.load(onnx.get(v)));
        float[] q = query(GEN.withIdOffset(QUERY_OFFSET).map(a.qid)).vector;
        float[] qe = e.embed(q);
        // Fewer than k ids only while the catalog held fewer than k items.
        assertTrue(a.ids.length == K || (a.ids.length < K && a.catalogOps < K), a.toString());
        for (int i = 0; i < a.ids.length; i++) {
          boolean same = false;
          for (float[] raw : everRaw.get(a.ids[i])) {
            double s = RetrievalTestSupport.cosine(e.embed(raw), qe);
            same |= Math.abs(s - a.scores[i]) < 1e-5;
          }
          if (!same) {
            mixed++;
          }
          if (i > 0) {
            assertTrue(a.scores[i] < a.scores[i - 1] || (a.scores[i] == a.scores[i - 1] && a.ids[i] > a.ids[i - 1]),
                "ranked: " + a);
          }
        }
        if (a.catalogOps == CATALOG) {
          double[] expectedScores = new double[K];
          long[] expected = RetrievalTestSupport.bruteForce(onnx.get(a.modelVersion),
              finalCatalog, q, K, expectedScores)[0];
          // Exact up to ties: the index ranks float scores, the brute force double ones, so two items whose scores
          // differ by less than float precision may come in either order (qid 195 of v4: 2e-10 apart).
          assertEquals(K, a.ids.length, a.toString());
          for (int i = 0; i < K; i++) {
            assertEquals(expectedScores[i], a.scores[i], 1e-5, "qid " + a.qid + " v" + a.modelVersion + " rank " + i);
            float[] raw = finalCatalog.get(a.ids[i]);
            assertTrue(raw != null, "answered an id that is not in the catalog: " + a);
            double truth = RetrievalTestSupport.cosine(e.embed(raw), qe);
            assertEquals(expectedScores[i], truth, TIE,
                "qid " + a.qid + " v" + a.modelVersion + ": id " + a.ids[i] + " at rank " + i + " instead of "
                    + expected[i]);
          }
          assertEquals(K, java.util.Arrays.stream(a.ids).distinct().count(), "distinct ids: " + a);
          exact++;
        }
      }
    } finally {
      enc.values().forEach(OnnxEncoder::close);
    }
    System.out.printf("retrieval %s: %d answers (%d queries), versions %s, exact-checked %d, mixed %d, rejected %s%n",
        key, answers.size(), byQid.size(), versions, exact, mixed, reasons);
    assertEquals(0, mixed, "answers whose scores are not those of one version");
    assertTrue(exact >= 20, "answers after the whole catalog was applied: " + exact);
    assertTrue(versions.size() >= 2 && versions.contains(4L), "answer versions " + versions);
    Answer last = byQid.get((long) QUERIES - 1);
    assertEquals(4L, last.modelVersion, "the last query is answered in the newest version");
  }
}
