package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.pml4j.data.SyntheticClusters;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.train.RetrievalEval;

/**
 * The evaluator on a real MiniCluster, fed by a real trainer: which versions each {@link EvalPolicy.Mode}
 * scores, and that every score equals the metrics of {@code pml4j train/eval} ({@link RetrievalEval#metrics}) of the
 * same ONNX model's embeddings of the same held-out rows.
 */
class RetrievalEvaluatorTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  static final int DIM = 8;
  static final int HELDOUT = 200;

  private static final GeneratedRecords GEN =
      GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.5, 1.0, 3), 0, 0);
  private static final GeneratedRecords HELD = GEN.withIdOffset(1_000_000);

  /**
   * 640 training records in batches of 32 (20 steps), a version every 2 steps (v0..v10); the held-out stream of 200
   * records is rate-limited to {@code heldoutPerSecond}.
   */
  private static Map<String, Object> run(String key, EvalPolicy.Mode mode, double heldoutPerSecond)
      throws Exception {
    return run(key, mode, heldoutPerSecond, HELDOUT);
  }

  private static Map<String, Object> run(String key, EvalPolicy.Mode mode, double heldoutPerSecond,
      int heldoutRecords) throws Exception {
    return run(key, mode, heldoutPerSecond, heldoutRecords, 0, EvalPolicy.DEFAULT_CPU_SHARE);
  }

  private static Map<String, Object> run(String key, EvalPolicy.Mode mode, double heldoutPerSecond,
      int heldoutRecords, double trainPerSecond, double cpuShare) throws Exception {
    StreamExecutionEnvironment env = TestSupport.env(null, 0, 0);
    DataStream<LabeledVector> train = env.fromSource(Sources.generated(GEN, 640, trainPerSecond),
        WatermarkStrategy.noWatermarks(), "train");
    DataStream<ModelUpdate> models = TrainerOperator.apply(train, TrainerFactory.DEFAULT,
        TestSupport.tinyConfig(DIM, 4, 5), TrainerOperator.Settings.of(32, 2));
    models.sinkTo(TestSupport.collect(key + "-models"));
    DataStream<LabeledVector> heldout = env.fromSource(Sources.generated(HELD, heldoutRecords, heldoutPerSecond),
        WatermarkStrategy.noWatermarks(), "heldout");
    RetrievalEvaluator.apply(heldout, models, HELDOUT, new EvalPolicy(mode, BackgroundPriority.IDLE, cpuShare))
        .sinkTo(TestSupport.collect(key + "-evals"));
    env.execute("evaluator-" + key);
    return Map.of("models", TestSupport.collected(key + "-models"), "evals", TestSupport.collected(key + "-evals"));
  }

  @SuppressWarnings("unchecked")
  private static void checkScores(Map<String, Object> r, List<Long> expectedVersions) {
    Map<Long, ModelUpdate> byVersion = new TreeMap<>();
    for (ModelUpdate m : (List<ModelUpdate>) r.get("models")) {
      byVersion.put(m.version, m);
    }
    assertEquals(11, byVersion.size(), "versions published: " + byVersion.keySet());
    List<EvalResult> evals = (List<EvalResult>) r.get("evals");
    List<Long> versions = new ArrayList<>();
    evals.forEach(e -> versions.add(e.modelVersion));
    if (expectedVersions != null) {
      assertEquals(expectedVersions, versions);
    }
    float[][] rows = new float[HELDOUT][];
    long[] labels = new long[HELDOUT];
    for (int i = 0; i < HELDOUT; i++) {
      LabeledVector v = HELD.map((long) i);
      rows[i] = v.features;
      labels[i] = v.label;
    }
    for (EvalResult e : evals) {
      ModelUpdate m = byVersion.get(e.modelVersion);
      // the core path of pml4j train/eval (RetrievalEval, k-NN in its default chunks) on ONNX Runtime's embeddings
      Map<String, Double> direct;
      try (OnnxEncoder enc = OnnxEncoder.load(m.onnx, new OnnxEncoder.Options(1, 4096))) {
        direct = RetrievalEval.metrics(enc.embed(rows), labels);
      }
      assertEquals(direct.get("precision_at_1"), e.precisionAt1, 0.0, "P@1 of v" + e.modelVersion);
      assertEquals(direct.get("mean_average_precision_at_r"), e.meanAveragePrecisionAtR, 0.0,
          "MAP@R of v" + e.modelVersion);
      assertEquals(m.step, e.step);
      assertEquals(HELDOUT, e.samples);
    }
  }

  @Test
  void everyModeScoresEveryVersionInOrder() throws Exception {
    checkScores(run("every", EvalPolicy.Mode.EVERY, 0), List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L,
        10L));
  }

  @Test
  void latestModeKeepsTheUntrainedAndTheNewestVersion() throws Exception {
    // The held-out stream takes ~4 s, far longer than the 20 training steps: all 11 versions arrive while the held-out
    // set is incomplete, so only version 0 and the newest one are left to score.
    Map<String, Object> r = run("latest", EvalPolicy.Mode.LATEST, 50);
    checkScores(r, null);
    @SuppressWarnings("unchecked")
    List<EvalResult> evals = (List<EvalResult>) r.get("evals");
    List<Long> versions = new ArrayList<>();
    evals.forEach(e -> versions.add(e.modelVersion));
    assertEquals(0L, versions.get(0), "the untrained version is always scored: " + versions);
    assertEquals(10L, versions.get(versions.size() - 1), "the final version is always scored: " + versions);
    for (int i = 1; i < versions.size(); i++) {
      assertTrue(versions.get(i) > versions.get(i - 1), "in version order: " + versions);
    }
    assertTrue(versions.size() < 11, "versions that arrived while the evaluator was busy are skipped: " + versions);
  }

  @SuppressWarnings("unchecked")
  private static List<Long> versions(Map<String, Object> r) {
    List<Long> versions = new ArrayList<>();
    ((List<EvalResult>) r.get("evals")).forEach(e -> versions.add(e.modelVersion));
    return versions;
  }

  @Test
  void theCpuSharePausesBetweenEvaluationsWhileTheInputRunsButNotAtItsEnd() throws Exception {
    // Training paced to 200 records/s: 11 versions over ~3 s, each arriving when the evaluator (200 held-out rows,
    // milliseconds per version) is long done. With the whole core (share 1) it scores them as they come; with a share
    // of 0.001 the pause after version 0 (999 times its CPU time) outlasts the input, and at the end of the input the
    // newest waiting version, the final one, is scored at once (the job does not wait out the pause).
    Map<String, Object> full = run("share-1", EvalPolicy.Mode.LATEST, 0, HELDOUT, 200, 1.0);
    checkScores(full, null);
    assertTrue(versions(full).size() > 2, "share 1: versions scored as they arrive: " + versions(full));
    long t0 = System.nanoTime();
    Map<String, Object> capped = run("share-0.001", EvalPolicy.Mode.LATEST, 0, HELDOUT, 200, 0.001);
    double seconds = (System.nanoTime() - t0) / 1e9;
    checkScores(capped, List.of(0L, 10L));
    assertTrue(seconds < 60, "the end of the input cut the pause short: " + seconds + " s");
    // mode EVERY keeps every version waiting and scores them all at the end
    checkScores(run("share-every", EvalPolicy.Mode.EVERY, 0, HELDOUT, 200, 0.001),
        List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L));
  }

  @Test
  void cpuSharesOutsideZeroToOneAreRejectedWithTheKeyName() {
    for (double bad : new double[] {0, -0.5, 1.5, Double.NaN}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new EvalPolicy(EvalPolicy.Mode.LATEST, BackgroundPriority.IDLE, bad));
      assertTrue(e.getMessage().contains("evaluator_cpu_share"), e.getMessage());
    }
    IllegalArgumentException cfg = assertThrows(IllegalArgumentException.class,
        () -> StreamJobConfig.fromArgs("--evaluator-cpu-share", "2"));
    assertTrue(cfg.getMessage().contains("evaluator_cpu_share"), cfg.getMessage());
    assertEquals(EvalPolicy.DEFAULT_CPU_SHARE, StreamJobConfig.fromArgs().evaluatorCpuShare);
    assertEquals(1.0, StreamJobConfig.fromArgs("--evaluator_cpu_share", "1").evaluatorCpuShare);
  }

  @Test
  void aHeldOutStreamTooShortToScoreEndsTheJobWithoutScores() throws Exception {
    for (EvalPolicy.Mode mode : new EvalPolicy.Mode[] {EvalPolicy.Mode.EVERY,
        EvalPolicy.Mode.LATEST}) {
      Map<String, Object> r = run("short-" + mode, mode, 0, 1);
      assertEquals(11, ((List<?>) r.get("models")).size());
      assertTrue(((List<?>) r.get("evals")).isEmpty(), "one held-out record: nothing to score");
    }
  }

  @Test
  void unknownModeIsRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EvalPolicy.Mode.parse("sometimes"));
    assertTrue(e.getMessage().contains("latest") && e.getMessage().contains("every"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> StreamJobConfig.fromArgs("--evaluate", "never"));
  }
}
