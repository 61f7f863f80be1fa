package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole job at trainer parallelism 2 with shards as wide as Fashion-MNIST's (512 records of 784 floats per replica,
 * ~1.6 MB): more than the cutter's output buffers hold. Before {@link GlobalBatchCutter} interleaved the shards, rank
 * 0 blocked in v0's publication collective while its undrained shard filled the output pool, rank 1 never got its
 * first record, and the job failed on the replica timeout after its restarts.
 */
class DataParallelWideShardsTest {
  /** A small encoder and a pair loss (all-triplet TripletMarginLoss at 1,024 rows would take most of a minute). */
  private static final String CONTRASTIVE = """
      {"encoder": {"class": "Sequential", "params": {"layers": [
          {"class": "Linear", "params": {"in_features": 784, "out_features": 16}},
          {"class": "ReLU"},
          {"class": "Linear", "params": {"in_features": 16, "out_features": 8}},
          {"class": "L2Normalize"}]}},
       "loss": {"class": "ContrastiveLoss"},
       "optimizer": {"class": "Adam", "params": {"lr": 0.01}},
       "seed": 3, "threads": 1}
      """;

  @TempDir
  Path tmp;

  @Test
  void wideShardsTrainWithoutDeadlock() throws Exception {
    Path out = tmp.resolve("run");
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", out.toString(), "--dataset", "synthetic",
        "--evaluate", "none", "--synthetic.classes", "8", "--synthetic.dimension", "784", "--train-records", "4096",
        "--heldout-records", "200", "--batch-size", "1024", "--publish-every-steps", "2", "--trainer-parallelism",
        "2", "--trainer_replica_timeout_seconds", "15", "--web-ui-port", "0",
        "--trainer", CONTRASTIVE);
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    JsonNode s = StreamingJob.run(c, TrainerFactory.DEFAULT, new PrintStream(log, true, StandardCharsets.UTF_8));
    assertEquals(2, s.path("parallelism").asInt(), s.toString());
    assertEquals(4, s.path("final_step").asLong(), "4,096 records = 4 global batches of 1,024: " + s);
    assertEquals(4096, s.path("samples").asLong(), s.toString());
    assertTrue(s.path("replicas_identical").asBoolean(false), s.toString());
    assertEquals(3, s.path("model_versions").asInt(), "v0, step 2, step 4: " + s);
    double allReduce = s.path("all_reduce_seconds").asDouble(-1);
    assertTrue(allReduce > 0 && allReduce < s.path("train_seconds").asDouble(), s.toString());
    assertEquals(allReduce / s.path("train_seconds").asDouble(), s.path("all_reduce_share").asDouble(), 1e-12);
  }
}
