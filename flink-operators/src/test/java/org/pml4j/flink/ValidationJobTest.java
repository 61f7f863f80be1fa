package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Bad records go to the "rejected" side output and are counted; the job (validation + training) finishes. */
class ValidationJobTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  @TempDir
  Path tmp;

  @Test
  void badRecordsAreRejectedCountedAndTheJobFinishes() throws Exception {
    int dim = 8;
    int n = 300;
    // Every 10th record is bad: NaN, missing label, wrong dimension in turn.
    SyntheticClusters gen = new SyntheticClusters(4, dim, 0.3, 1.0, 11, 0, 10);
    StreamExecutionEnvironment env = TestSupport.env(tmp.resolve("chk"), 200, 0);
    DataStream<LabeledVector> src = env.fromSource(Sources.synthetic(gen, n, 0), WatermarkStrategy.noWatermarks(),
        "synthetic");
    SingleOutputStreamOperator<LabeledVector> valid = src.process(new ValidateFunction(dim, true)).name("validate");
    valid.getSideOutput(ValidateFunction.REJECTED).sinkTo(TestSupport.collect("rejected"));
    valid.sinkTo(TestSupport.collect("valid"));
    TrainerOperator.apply(valid, TrainerFactory.DEFAULT, TestSupport.tinyConfig(dim, 4, 1),
        TrainerOperator.Settings.of(16, 5)).sinkTo(TestSupport.collect("models"));
    JobExecutionResult r = env.execute("validation");

    List<RejectedRecord> rejected = TestSupport.collected("rejected");
    List<LabeledVector> ok = TestSupport.collected("valid");
    assertEquals(30, rejected.size());
    assertEquals(270, ok.size());
    Map<String, Long> byReason = rejected.stream().collect(Collectors.groupingBy(x -> x.reason,
        Collectors.counting()));
    assertEquals(Map.of(RejectedRecord.NON_FINITE, 10L, RejectedRecord.MISSING_LABEL, 10L,
        RejectedRecord.WRONG_DIMENSION, 10L), byReason);
    for (RejectedRecord x : rejected) {
      assertEquals(9, x.record.id % 10);
    }
    assertEquals(30L, (Long) r.getAccumulatorResult(ValidateFunction.ACCUMULATOR));
    List<ModelUpdate> models = TestSupport.collected("models");
    ModelUpdate last = models.get(models.size() - 1);
    assertEquals(270 / 16, last.step);
    assertEquals(0, models.get(0).version);
    assertEquals(0, models.get(0).step);
    // v0 (untrained), every 5 steps up to 15, and the final model at step 16.
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L), models.stream().map(m -> m.version).toList());
  }

  @Test
  void csvAndJsonFilesAreValidatedToo() throws Exception {
    Path csv = tmp.resolve("data.csv");
    Files.writeString(csv, String.join("\n", "id,label,a,b,c", "1,0,0.1,0.2,0.3", "2,,0.1,0.2,0.3",
        "3,1,0.1,x,0.3", "4,1,0.5,0.5", "", "5,2,1,2,3") + "\n");
    Path jsonl = tmp.resolve("data.jsonl");
    Files.writeString(jsonl, String.join("\n", "{\"id\": 10, \"label\": 1, \"vector\": [1, 2, 3]}",
        "not json", "{\"id\": 12, \"vector\": [1, 2, 3]}", "{\"id\": 13, \"label\": 2, \"vector\": [1, \"NaN\", 3]}",
        "{\"label\": 3, \"features\": [4, 5, 6]}") + "\n");
    StreamExecutionEnvironment env = TestSupport.env(null, 0, 0);
    DataStream<LabeledVector> a = env.fromSource(Sources.csv(csv), WatermarkStrategy.noWatermarks(), "csv");
    DataStream<LabeledVector> b = env.fromSource(Sources.jsonLines(jsonl), WatermarkStrategy.noWatermarks(), "jsonl");
    SingleOutputStreamOperator<LabeledVector> valid = a.union(b).process(new ValidateFunction(3, true));
    valid.getSideOutput(ValidateFunction.REJECTED).sinkTo(TestSupport.collect("file-rejected"));
    valid.sinkTo(TestSupport.collect("file-valid"));
    env.execute("files");
    List<Long> okIds = TestSupport.<LabeledVector>collected("file-valid").stream().map(v -> v.id).sorted().toList();
    assertEquals(List.of(1L, 4L /* the 5th JSON line: no id, position 4 */, 5L, 10L), okIds);
    Map<Long, String> bad = TestSupport.<RejectedRecord>collected("file-rejected").stream()
        .collect(Collectors.toMap(x -> x.record.id, x -> x.reason, (x, y) -> x + "+" + y));
    assertEquals(RejectedRecord.MISSING_LABEL, bad.get(2L));
    assertEquals(RejectedRecord.MALFORMED, bad.get(3L)); // "x" is not a number
    assertTrue(bad.get(4L).contains(RejectedRecord.WRONG_DIMENSION), bad.toString());
    assertEquals(RejectedRecord.MALFORMED, bad.get(1L)); // "not json" at position 1
    assertEquals(RejectedRecord.MISSING_LABEL, bad.get(12L));
    assertEquals(RejectedRecord.NON_FINITE, bad.get(13L));
  }
}
