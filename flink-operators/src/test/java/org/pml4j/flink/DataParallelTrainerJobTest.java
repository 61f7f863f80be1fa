package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.data.SyntheticClusters;
import org.pml4j.onnx.ModelPublisher;
import org.pml4j.train.TrainerConfig;

/**
 * Issue 13 in Flink: the trainer at parallelism 2 on the MiniCluster (global batches cut upstream, a Gloo group formed
 * through a rendezvous file, gradients all-reduced). Rank 0 publishes every version once, with the replicas'
 * parameter hashes equal at each; a rerun publishes byte-identical ONNX; and a run with injected task failures
 * restores from checkpoints (a fresh group per attempt) and ends byte-identical too.
 */
class DataParallelTrainerJobTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  @TempDir
  Path tmp;

  static final int DIM = 8;
  static final int BATCH = 32; // global: 16 per replica
  static final int RECORDS = 1610; // 50 global batches and 10 records that do not fill one
  static final int P = 2;

  private Map<Long, ModelUpdate> run(String name, Set<Long> failAt) throws Exception {
    return run(name, TestSupport.tinyConfig(DIM, 4, 3), new TestSupport.FailOnce(tmp.resolve(name).resolve("markers"),
        failAt), failAt.size());
  }

  private Map<Long, ModelUpdate> run(String name, TrainerConfig config,
      MapFunction<LabeledVector, LabeledVector> inject, int failures) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve(name));
    Path markers = Files.createDirectories(dir.resolve("markers"));
    StreamExecutionEnvironment env = TestSupport.env(dir.resolve("chk"), 150, 10);
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.4, 1.0, 5), 0, 0);
    DataStream<LabeledVector> src = env.fromSource(Sources.generated(gen, RECORDS, 2000),
        WatermarkStrategy.noWatermarks(), "synthetic").uid("source").setParallelism(1);
    DataStream<LabeledVector> checked = src.process(new ValidateFunction(DIM, true)).uid("validate")
        .setParallelism(1).map(inject).uid("fail-once").setParallelism(1);
    SingleOutputStreamOperator<ModelUpdate> models = DataParallelTrainer.apply(checked, TrainerFactory.DEFAULT,
        config, TrainerOperator.Settings.of(BATCH, 10), P, dir.resolve("rendezvous"));
    ModelPublisherSink.apply(models, dir.resolve("models"), 100);
    models.sinkTo(TestSupport.collect(name)).setParallelism(1);
    env.execute(name);

    assertEquals(failures, TestSupport.markers(markers), "each injected failure fired once");
    Map<Long, ModelUpdate> byVersion = new TreeMap<>();
    for (ModelUpdate m : TestSupport.<ModelUpdate>collected(name)) {
      ModelUpdate prev = byVersion.putIfAbsent(m.version, m);
      if (prev != null) {
        assertTrue(failures > 0, "a failure-free run publishes each version once (v" + m.version + ")");
        assertArrayEquals(prev.onnx, m.onnx, "a replayed version must have the same bytes (v" + m.version + ")");
      }
      assertEquals(1.0, m.metrics.get(TrainerOperator.METRIC_REPLICAS_IDENTICAL), "replica hashes at v" + m.version);
      assertEquals((double) P, m.metrics.get(TrainerOperator.METRIC_PARALLELISM));
      assertTrue(m.step == 0 || m.metrics.get(TrainerOperator.METRIC_ALL_REDUCE_SECONDS) > 0, "all-reduce time");
    }
    ModelPublisher.PublishedModel latest = ModelPublisher.readLatest(dir.resolve("models"));
    assertEquals(RECORDS / BATCH, latest.entry().trainingStep(), "one step per whole global batch");
    ModelUpdate last = byVersion.get(latest.entry().version());
    assertArrayEquals(last.onnx, latest.bytes());
    assertEquals((double) (RECORDS / BATCH * BATCH), last.metrics.get(TrainerOperator.METRIC_SAMPLES),
        "samples count every replica's records once");
    return byVersion;
  }

  /**
   * A record whose label the classifier of a TrainWithClassifier cannot take (once, on its first pass) makes one
   * replica's trainStep throw while its peer waits in a collective: Flink restarts both, a fresh group forms, and the
   * run ends with the failure-free run's models.
   */
  @Test
  void aReplicaThatFailsWhileItsPeerWaitsIsRestartedWithIt() throws Exception {
    TrainerConfig config = TrainerConfigs.fromJson("""
        {"encoder": {"class": "Sequential", "params": {"layers": [
            {"class": "Linear", "params": {"in_features": %d, "out_features": 16}},
            {"class": "ReLU"},
            {"class": "Linear", "params": {"in_features": 16, "out_features": 4}}]}},
         "loss": {"class": "TrainWithClassifier", "params": {"metric_loss": {"class": "TripletMarginLoss"},
             "num_classes": 4}},
         "optimizer": {"class": "Adam", "params": {"lr": 0.01}},
         "seed": 3, "threads": 1}
        """.formatted(DIM));
    Map<Long, ModelUpdate> clean = run("clean-twc", config, new BadLabelOnce(tmp.resolve("unused"), -1L), 0);
    long t0 = System.nanoTime();
    Map<Long, ModelUpdate> failing = run("failing-twc", config,
        new BadLabelOnce(tmp.resolve("failing-twc").resolve("markers"), 777L), 1);
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertEquals(clean.keySet(), failing.keySet());
    for (long v : clean.keySet()) {
      assertArrayEquals(clean.get(v).onnx, failing.get(v).onnx, "version " + v + " after the replica's failure");
    }
    System.out.printf("replica failure: restarted and byte-identical, %.1f s%n", seconds);
  }

  /** On its first pass, record {@code id} gets label 99 (a marker file remembers it); replayed, it is unchanged. */
  static final class BadLabelOnce implements MapFunction<LabeledVector, LabeledVector> {
    private static final long serialVersionUID = 1L;
    private final String markerDir;
    private final long id;

    BadLabelOnce(Path markerDir, long id) {
      this.markerDir = markerDir.toString();
      this.id = id;
    }

    @Override
    public LabeledVector map(LabeledVector v) throws java.io.IOException {
      if (v.id == id) {
        Path marker = Path.of(markerDir, "failed-" + v.id);
        if (!Files.exists(marker)) {
          Files.createFile(marker);
          return new LabeledVector(v.id, 99L, v.features);
        }
      }
      return v;
    }
  }

  @Test
  void twoReplicasStayIdenticalAndARerunPublishesTheSameModels() throws Exception {
    Map<Long, ModelUpdate> first = run("first", Set.of());
    Map<Long, ModelUpdate> second = run("second", Set.of());
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), List.copyOf(first.keySet()));
    assertEquals(first.keySet(), second.keySet());
    for (long v : first.keySet()) {
      assertArrayEquals(first.get(v).onnx, second.get(v).onnx, "version " + v);
    }
    Map<Long, ModelUpdate> failing = run("failing", Set.of(400L, 1100L));
    assertEquals(first.keySet(), failing.keySet());
    for (long v : first.keySet()) {
      assertArrayEquals(first.get(v).onnx, failing.get(v).onnx, "version " + v + " after restores");
    }
  }
}
