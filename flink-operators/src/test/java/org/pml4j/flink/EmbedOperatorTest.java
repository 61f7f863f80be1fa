package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.data.SyntheticClusters;

/** The embed operator serves the newest model, tags outputs with its version, buffers until the first model, and a
 * restored job serves from broadcast state at once. */
class EmbedOperatorTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  @TempDir
  Path tmp;

  static final int DIM = 8;

  /** Holds the first model back for a while, so that early queries must wait in the embed operator's buffer. */
  static final class DelayFirst implements MapFunction<ModelUpdate, ModelUpdate> {
    private static final long serialVersionUID = 1L;

    @Override
    public ModelUpdate map(ModelUpdate m) throws InterruptedException {
      if (m.version == 0) {
        Thread.sleep(500);
      }
      return m;
    }
  }

  @Test
  void servesTheNewestVersionAndTagsOutputs() throws Exception {
    StreamExecutionEnvironment env = TestSupport.env(tmp.resolve("chk"), 200, 0);
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.4, 1.0, 9), 0, 0);
    DataStream<LabeledVector> train = env.fromSource(Sources.generated(gen, 640, 0),
        WatermarkStrategy.noWatermarks(), "train");
    DataStream<ModelUpdate> models = TrainerOperator.apply(train, TrainerFactory.DEFAULT,
        TestSupport.tinyConfig(DIM, 4, 2), TrainerOperator.Settings.of(32, 5));
    models.sinkTo(TestSupport.collect("embed-models"));
    DataStream<ModelUpdate> delayed = models.map(new DelayFirst()).setParallelism(1);
    int nQueries = 600;
    DataStream<LabeledVector> queries = env.fromSource(
        Sources.generated(gen.withIdOffset(1_000_000), nQueries, 200), WatermarkStrategy.noWatermarks(), "queries");
    EmbedOperator.apply(queries, delayed, 1).sinkTo(TestSupport.collect("embeddings"));
    env.execute("embed");

    Map<Long, ModelUpdate> byVersion = new HashMap<>();
    for (ModelUpdate m : TestSupport.<ModelUpdate>collected("embed-models")) {
      byVersion.put(m.version, m);
    }
    assertEquals(Set.of(0L, 1L, 2L, 3L, 4L), byVersion.keySet());
    List<Embedding> out = TestSupport.collected("embeddings");
    assertEquals(nQueries, out.size());
    assertEquals(nQueries, out.stream().map(e -> e.id).distinct().count());
    long prev = -1;
    Set<Long> served = new HashSet<>();
    for (Embedding e : out) {
      assertTrue(e.modelVersion >= prev, "versions must not go back");
      prev = e.modelVersion;
      served.add(e.modelVersion);
    }
    assertEquals(0L, out.get(0).modelVersion, "the first queries wait for, then get, the first model");
    assertEquals(4L, out.get(out.size() - 1).modelVersion, "the last queries get the newest model");
    assertTrue(served.size() >= 2, "served versions " + served);
    // The tag is the model that produced the vector.
    Map<Long, OnnxEncoder> encoders = new HashMap<>();
    try {
      for (Embedding e : out) {
        OnnxEncoder enc = encoders.computeIfAbsent(e.modelVersion, v -> OnnxEncoder.load(byVersion.get(v).onnx));
        float[] expected = enc.embed(gen.withIdOffset(1_000_000).map(e.id - 1_000_000).features);
        for (int j = 0; j < expected.length; j++) {
          assertEquals(expected[j], e.vector[j], 1e-6, "record " + e.id + " v" + e.modelVersion);
        }
      }
    } finally {
      encoders.values().forEach(OnnxEncoder::close);
    }
  }

  @Test
  void restoredJobServesFromBroadcastStateAtOnce() throws Exception {
    Path chk = tmp.resolve("retained");
    StreamExecutionEnvironment env = TestSupport.env(chk, 100, 0);
    env.configure(new Configuration().set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
        ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION));
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.4, 1.0, 9), 0, 0);
    DataStream<LabeledVector> train = env.fromSource(Sources.generated(gen, 320, 0),
        WatermarkStrategy.noWatermarks(), "train").uid("train");
    DataStream<ModelUpdate> models = TrainerOperator.apply(train, TrainerFactory.DEFAULT,
        TestSupport.tinyConfig(DIM, 4, 2), TrainerOperator.Settings.of(32, 5));
    DataStream<LabeledVector> slowQueries = env.fromSource(
        Sources.generated(gen.withIdOffset(1_000_000), 1_000_000, 50), WatermarkStrategy.noWatermarks(), "queries")
        .uid("queries");
    EmbedOperator.apply(slowQueries, models, 1).sinkTo(TestSupport.collect("first-run"));
    JobClient job = env.executeAsync("embed-first");
    // 320 records / 32 = 10 steps: versions 0, 1 (step 5), 2 (step 10). Wait until v2 is served, then for a
    // checkpoint taken after that.
    long deadline = System.currentTimeMillis() + 60_000;
    while (TestSupport.<Embedding>collected("first-run").stream().noneMatch(e -> e.modelVersion == 2)) {
      assertTrue(System.currentTimeMillis() < deadline, "v2 never served");
      Thread.sleep(50);
    }
    long seen = System.currentTimeMillis();
    Path latest = null;
    while (latest == null || Files.getLastModifiedTime(latest.resolve("_metadata")).toMillis() <= seen + 100) {
      assertTrue(System.currentTimeMillis() < deadline, "no checkpoint after v2");
      Thread.sleep(100);
      latest = latestCheckpoint(chk);
    }
    job.cancel().get();

    // Second job: a fresh query stream, a model stream that never emits; the embed operator restored by uid.
    StreamExecutionEnvironment env2 = TestSupport.env(null, 0, 0);
    env2.configure(new Configuration().set(StateRecoveryOptions.SAVEPOINT_PATH, latest.toString())
        .set(StateRecoveryOptions.SAVEPOINT_IGNORE_UNCLAIMED_STATE, true));
    DataStream<ModelUpdate> none = env2.fromSource(new DataGeneratorSource<>(i -> new ModelUpdate(), 1,
        TypeInformation.of(ModelUpdate.class)), WatermarkStrategy.noWatermarks(), "no-models").uid("no-models")
        .filter(m -> false).uid("no-models-filter");
    DataStream<LabeledVector> queries = env2.fromSource(Sources.generated(gen.withIdOffset(2_000_000), 50, 0),
        WatermarkStrategy.noWatermarks(), "queries-2").uid("queries-2");
    EmbedOperator.apply(queries, none, 1).sinkTo(TestSupport.collect("second-run"));
    env2.execute("embed-restored");
    List<Embedding> out = TestSupport.collected("second-run");
    assertEquals(50, out.size(), "served without any new model");
    assertFalse(out.stream().anyMatch(e -> e.modelVersion != 2), "all tagged with the restored version 2");
  }

  /** Emits one fixed model. */
  static final class OneModel
      implements org.apache.flink.connector.datagen.source.GeneratorFunction<Long, ModelUpdate> {
    private static final long serialVersionUID = 1L;
    private final byte[] onnx;

    OneModel(byte[] onnx) {
      this.onnx = onnx;
    }

    @Override
    public ModelUpdate map(Long i) {
      return new ModelUpdate(7, 70, onnx, Map.of(), System.currentTimeMillis());
    }
  }

  @Test
  void queriesBufferedBeforeTheFirstModelSurviveARestore() throws Exception {
    Path chk = tmp.resolve("buffered");
    StreamExecutionEnvironment env = TestSupport.env(chk, 100, 0);
    env.configure(new Configuration().set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
        ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION));
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.4, 1.0, 9), 0, 0);
    // A model stream that keeps the job alive but never emits.
    DataStream<ModelUpdate> never = env.fromSource(new DataGeneratorSource<>(i -> new ModelUpdate(), 1000,
        org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy.perSecond(1),
        TypeInformation.of(ModelUpdate.class)), WatermarkStrategy.noWatermarks(), "never").uid("never")
        .filter(m -> false).uid("never-filter");
    DataStream<LabeledVector> queries = env.fromSource(Sources.generated(gen, 30, 0),
        WatermarkStrategy.noWatermarks(), "queries").uid("queries");
    EmbedOperator.apply(queries, never, 1).sinkTo(TestSupport.collect("buffered-first"));
    JobClient job = env.executeAsync("buffer-first");
    long start = System.currentTimeMillis();
    Path latest = null;
    while (latest == null || Files.getLastModifiedTime(latest.resolve("_metadata")).toMillis() < start + 1500) {
      assertTrue(System.currentTimeMillis() < start + 60_000, "no checkpoint");
      Thread.sleep(100);
      latest = latestCheckpoint(chk);
    }
    job.cancel().get();
    assertEquals(0, TestSupport.collected("buffered-first").size(), "nothing served without a model");

    byte[] onnx;
    try (org.pml4j.train.CheckpointableTrainer t = TrainerFactory.DEFAULT.apply(TestSupport.tinyConfig(DIM, 4, 2))) {
      onnx = org.pml4j.onnx.OnnxExporter.export(t.encoder(), 7, 70);
    }
    StreamExecutionEnvironment env2 = TestSupport.env(null, 0, 0);
    env2.configure(new Configuration().set(StateRecoveryOptions.SAVEPOINT_PATH, latest.toString())
        .set(StateRecoveryOptions.SAVEPOINT_IGNORE_UNCLAIMED_STATE, true));
    DataStream<ModelUpdate> one = env2.fromSource(new DataGeneratorSource<>(new OneModel(onnx), 1,
        TypeInformation.of(ModelUpdate.class)), WatermarkStrategy.noWatermarks(), "one-model").uid("one-model");
    DataStream<LabeledVector> more = env2.fromSource(Sources.generated(gen.withIdOffset(500), 5, 0),
        WatermarkStrategy.noWatermarks(), "queries-2").uid("queries-2");
    EmbedOperator.apply(more, one, 1).sinkTo(TestSupport.collect("buffered-second"));
    env2.execute("buffer-restored");
    List<Embedding> out = TestSupport.collected("buffered-second");
    Set<Long> ids = new HashSet<>();
    out.forEach(e -> ids.add(e.id));
    Set<Long> expected = new HashSet<>();
    for (long i = 0; i < 30; i++) {
      expected.add(i);
    }
    for (long i = 500; i < 505; i++) {
      expected.add(i);
    }
    assertEquals(expected, ids, "the 30 buffered queries from the first job and the 5 new ones");
    assertEquals(35, out.size());
    assertTrue(out.stream().allMatch(e -> e.modelVersion == 7));
  }

  private static Path latestCheckpoint(Path root) throws Exception {
    if (!Files.exists(root)) {
      return null;
    }
    try (Stream<Path> s = Files.walk(root, 2)) {
      return s.filter(p -> p.getFileName().toString().startsWith("chk-"))
          .filter(p -> Files.exists(p.resolve("_metadata")))
          .max(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(4))))
          .orElse(null);
    }
  }
}
