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
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.onnx.ModelPublisher;
import org.pml4j.data.SyntheticClusters;

/**
 * Exactly-once training under failures: a replayable source, checkpoints every 100 ms, and a map that throws once on
 * each of 3 chosen record ids (marker files). The recovered run must end with the same step count as
 * {@code records / batch} and with final model bytes (ONNX: all parameters) bit-identical to a failure-free run; every
 * version it published must equal the failure-free run's version.
 */
class FaultToleranceTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  @TempDir
  Path tmp;

  static final int DIM = 8;
  static final int BATCH = 32;
  static final int RECORDS = 3200;
  static final Set<Long> FAIL_AT = Set.of(700L, 1500L, 2300L);

  private Map<Long, byte[]> run(String name, Set<Long> failAt) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve(name));
    Path markers = Files.createDirectories(dir.resolve("markers"));
    StreamExecutionEnvironment env = TestSupport.env(dir.resolve("chk"), 100, 10);
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.4, 1.0, 5), 0, 0);
    DataStream<LabeledVector> src = env.fromSource(Sources.generated(gen, RECORDS, 2000),
        WatermarkStrategy.noWatermarks(), "synthetic").uid("source");
    DataStream<LabeledVector> checked = src.process(new ValidateFunction(DIM, true)).uid("validate")
        .map(new TestSupport.FailOnce(markers, failAt)).uid("fail-once");
    SingleOutputStreamOperator<ModelUpdate> models = TrainerOperator.apply(checked, CountingTrainerFactory.factory(),
        TestSupport.tinyConfig(DIM, 4, 3), TrainerOperator.Settings.of(BATCH, 10));
    ModelPublisherSink.apply(models, dir.resolve("models"), 100);
    models.sinkTo(TestSupport.collect(name));
    env.execute(name);

    assertEquals(failAt.size(), TestSupport.markers(markers), "each injected failure fired once");
    List<ModelUpdate> emitted = TestSupport.collected(name);
    Map<Long, byte[]> byVersion = new TreeMap<>();
    for (ModelUpdate m : emitted) {
      byte[] prev = byVersion.putIfAbsent(m.version, m.onnx);
      if (prev != null) {
        assertArrayEquals(prev, m.onnx, "a replayed version must have the same bytes (v" + m.version + ")");
      }
    }
    ModelPublisher.Manifest manifest = ModelPublisher.readManifest(dir.resolve("models"));
    ModelPublisher.PublishedModel latest = ModelPublisher.readLatest(dir.resolve("models"));
    assertEquals(RECORDS / BATCH, latest.entry().trainingStep(), "exact step count");
    assertArrayEquals(byVersion.get(manifest.latest()), latest.bytes());
    assertEquals(byVersion.size(), manifest.models().size(), "every version published once");
    return byVersion;
  }

  @Test
  void recoveredRunIsBitIdenticalToFailureFreeRun() throws Exception {
    Map<Long, byte[]> clean = run("clean", Set.of());
    int restoresBefore = CountingTrainerFactory.RESTORES.get();
    Map<Long, byte[]> failing = run("failing", FAIL_AT);
    int restores = CountingTrainerFactory.RESTORES.get() - restoresBefore;

    assertTrue(restores >= 1, "recovery should restore trainer state from a checkpoint, got " + restores);
    assertEquals(clean.keySet(), failing.keySet());
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), List.copyOf(clean.keySet()));
    for (long v : clean.keySet()) {
      assertArrayEquals(clean.get(v), failing.get(v), "version " + v);
    }
    System.out.printf("fault tolerance: %d injected failures, %d trainer restores, %d versions bit-identical,"
        + " final model %d bytes%n", FAIL_AT.size(), restores, clean.size(), clean.get(10L).length);
  }
}
