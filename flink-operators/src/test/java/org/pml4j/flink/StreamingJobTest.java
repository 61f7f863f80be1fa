package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.onnx.ModelPublisher;

/** The whole topology: run by {@link StreamingJob#run} in its own MiniCluster, and submitted twice to one cluster. */
class StreamingJobTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  @TempDir
  Path tmp;

  private StreamJobConfig config(Path out, String evaluate) {
    return StreamJobConfig.fromArgs("--output-dir", out.toString(), "--dataset", "synthetic", "--evaluate", evaluate,
        "--synthetic.classes", "4", "--synthetic.dimension", "8", "--synthetic.noise", "0.6",
        "--synthetic.corrupt-every", "50", "--train-records", "1280", "--heldout-records", "200",
        "--batch-size", "32", "--publish-every-steps", "10", "--embed-parallelism", "2",
        "--checkpoint-interval-ms", "200", "--web-ui-port", "0",
        "--trainer", TrainerConfigs.toJson(TestSupport.tinyConfig(8, 4, 5)));
  }

  @Test
  void runWritesModelsAndSummary() throws Exception {
    Path out = tmp.resolve("run");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    JsonNode s = StreamingJob.run(config(out, "latest"), TrainerFactory.DEFAULT, new PrintStream(log, true,
        StandardCharsets.UTF_8));
    String printed = log.toString(StandardCharsets.UTF_8);
    System.out.print(printed);
    assertTrue(printed.matches("(?s).*Flink Web UI at http://(localhost|127\\.0\\.0\\.1):\\d+.*"), printed);
    JsonNode file = TestSupport.readJson(out.resolve(StreamingJob.SUMMARY));
    assertEquals(s.toString(), file.toString());
    // 1280 records, every 50th bad: 25 rejected, 1255 valid → 39 steps of 32; v0 + steps 10, 20, 30 + final 39.
    assertEquals(25, s.path("rejected").asLong());
    assertEquals(5, s.path("model_versions").asInt());
    assertEquals(39, s.path("final_step").asLong());
    assertEquals(39 * 32, s.path("samples").asLong());
    assertTrue(s.path("samples_per_sec").asDouble() > 0);
    for (String k : new String[] {"final", "untrained"}) {
      for (String m : new String[] {"precision_at_1", "mean_average_precision_at_r"}) {
        double v = s.path(k).path(m).asDouble(-1);
        assertTrue(v >= 0 && v <= 1, k + "." + m + " = " + v);
      }
    }
    assertEquals(4, s.path("final").path("version").asLong());
    assertEquals(0, s.path("untrained").path("version").asLong());
    int evaluated = s.path("evaluated_versions").asInt();
    assertTrue(evaluated >= 2 && evaluated <= 5, "evaluate=latest scores v0, the final version and any between: "
        + evaluated);
    assertEquals(200, s.path("final").path("samples").asInt());
    assertTrue(s.path("refresh_latency_ms").path("count").asInt() >= 1, s.toString());
    assertFalse(s.path("refresh_latency_ms").path("p50").isNull());
    ModelPublisher.Manifest manifest = ModelPublisher.readManifest(out.resolve(StreamingJob.MODELS));
    assertEquals(4, manifest.latest());
    assertEquals(5, manifest.models().size());
    assertEquals(25, Files.readAllLines(out.resolve(StreamingJob.REJECTED)).size());
  }

  @Test
  void theSameJobSubmittedTwiceToOneClusterRunsBothTimes() throws Exception {
    byte[][] finals = new byte[2][];
    for (int i = 0; i < 2; i++) {
      StreamJobConfig c = config(tmp.resolve("twice-" + i), "every");
      StreamExecutionEnvironment env = JobEnvironment.environment(c);
      StreamingJob.build(env, c, TrainerFactory.DEFAULT);
      JobExecutionResult r = env.execute("twice-" + i);
      assertEquals(25L, (Long) r.getAccumulatorResult(ValidateFunction.ACCUMULATOR));
      ModelPublisher.PublishedModel latest = ModelPublisher.readLatest(tmp.resolve("twice-" + i)
          .resolve(StreamingJob.MODELS));
      assertNotNull(latest);
      assertEquals(39, latest.entry().trainingStep());
      finals[i] = latest.bytes();
      List<String> evals = Files.readAllLines(tmp.resolve("twice-" + i).resolve(StreamingJob.EVALUATIONS));
      assertEquals(5, evals.stream().map(l -> TestSupport.readJsonString(l).path("version").asLong()).distinct()
          .count());
    }
    assertArrayEquals(finals[0], finals[1], "same data, same seed: the same final model");
  }

  @Test
  void evaluateNoneLeavesTheEvaluatorOut() throws Exception {
    Path out = tmp.resolve("none");
    JsonNode s = StreamingJob.run(config(out, "none"), TrainerFactory.DEFAULT, new PrintStream(
        new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertEquals(5, s.path("model_versions").asInt());
    assertEquals(0, s.path("evaluated_versions").asInt());
    assertTrue(s.path("final").isMissingNode(), s.toString());
    assertFalse(Files.exists(out.resolve(StreamingJob.EVALUATIONS)));
    assertEquals(4, ModelPublisher.readManifest(out.resolve(StreamingJob.MODELS)).latest());
    assertTrue(s.path("refresh_latency_ms").path("count").asInt() >= 1, s.toString());
  }
}
