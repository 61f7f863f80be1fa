package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code retrieval.enabled} in the whole streaming job: answers file and summary.json's "retrieval" object. */
class RetrievalStageTest {
  @TempDir
  Path tmp;

  @Test
  void streamingJobWithRetrievalWritesAnswersAndSummary() throws Exception {
    Path out = tmp.resolve("run");
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", out.toString(), "--dataset", "synthetic",
        "--evaluate", "none", "--synthetic.classes", "4", "--synthetic.dimension", "8", "--train-records", "1280",
        "--records-per-second", "400", "--heldout-records", "50", "--batch-size", "32", "--publish-every-steps", "10",
        "--checkpoint-interval-ms", "300", "--web-ui-port", "0", "--slots", "4",
        "--trainer", TrainerConfigs.toJson(TestSupport.tinyConfig(8, 4, 5)),
        "--retrieval", "{\"enabled\": true, \"catalog_records\": 2000, \"queries\": 300, \"queries_per_second\": 60,"
            + " \"shards\": 2, \"k\": 10, \"chunk_size\": 256}");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    JsonNode s = StreamingJob.run(c, TrainerFactory.DEFAULT, new PrintStream(log, true, StandardCharsets.UTF_8));
    System.out.print(log.toString(StandardCharsets.UTF_8));
    JsonNode r = s.path("retrieval");
    assertEquals(2000, r.path("catalog_items").asLong(), r.toString());
    assertEquals(300, r.path("queries").asLong(), r.toString());
    assertEquals(0, r.path("no_common_version").asLong(), r.toString());
    assertEquals(0, r.path("mixed_version_answers").asLong(), r.toString());
    assertEquals(0, r.path("unchecked_answers").asLong(), r.toString());
    assertEquals(1.0, r.path("recall_at_10_vs_exact").asDouble(), 1e-12, r.toString());
    assertTrue(r.path("recall_sample").asInt() >= 100, r.toString());
    assertTrue(r.path("index_versions").asInt() >= 2, r.toString());
    assertTrue(r.path("index_versions").asInt() >= r.path("answers_per_version").asInt(),
        "every answered version was served by every shard: " + r);
    assertTrue(r.path("refresh_ms").path("max").asLong(-1) >= 0, r.toString());
    assertTrue(r.path("query_latency_ms").path("p99").asLong(-1) >= 0, r.toString());
    assertEquals(300, Files.readAllLines(out.resolve(RetrievalStage.ANSWERS)).size());
    assertTrue(r.path("precision_at_1").size() >= 1, r.toString());
    // The readiness gate: each shard marked when it first served (and kept its count of applied catalog records up
    // to date), and the generated queries entered only after the marks said that both serve and hold the whole
    // catalog of 2,000, so none of them waited for the start-up and every answer ranked the whole catalog.
    Path[] tokens;
    try (var l = Files.list(out.resolve(ServingMarks.DIRECTORY))) {
      tokens = l.toArray(Path[]::new);
    }
    assertEquals(1, tokens.length);
    long lastMark = 0;
    long applied = 0;
    for (int shard = 0; shard < 2; shard++) {
      Path mark = tokens[0].resolve("shard-" + shard);
      assertTrue(Files.exists(mark), mark.toString());
      lastMark = Math.max(lastMark, Files.getLastModifiedTime(mark).toMillis());
      applied += Long.parseLong(Files.readString(mark).trim().split(" ")[1]);
    }
    assertEquals(2000, applied);
    long firstIn = Long.MAX_VALUE;
    for (String line : Files.readAllLines(out.resolve(RetrievalStage.ANSWERS))) {
      firstIn = Math.min(firstIn, TestSupport.JSON.readTree(line).path("in_ms").asLong());
    }
    assertTrue(firstIn >= lastMark, "first query entered at " + firstIn + ", the last shard served at " + lastMark);
    assertEquals(0, r.path("queries_waited_for_first_index").asLong(), r.toString());
    for (String line : Files.readAllLines(out.resolve(RetrievalStage.ANSWERS))) {
      assertEquals(2000, TestSupport.JSON.readTree(line).path("catalog_ops").asLong(), line);
    }
  }

  @Test
  void theCatalogsRocksDbGetsSmallMemtablesUnlessTheClusterNamesABackend() {
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", tmp.resolve("a").toString(), "--dataset", "synthetic",
        "--retrieval.enabled", "true");
    org.apache.flink.streaming.api.environment.StreamExecutionEnvironment env = JobEnvironment.environment(c);
    StreamingJob.build(env, c, TrainerFactory.DEFAULT);
    org.apache.flink.configuration.ReadableConfig conf = env.getConfiguration();
    assertEquals("rocksdb", conf.get(org.apache.flink.configuration.StateBackendOptions.STATE_BACKEND));
    assertEquals(org.apache.flink.configuration.MemorySize.parse("4mb"),
        conf.get(org.apache.flink.state.rocksdb.RocksDBConfigurableOptions.WRITE_BUFFER_SIZE));
    assertEquals(false, conf.get(org.apache.flink.state.rocksdb.RocksDBOptions.USE_MANAGED_MEMORY));
    assertEquals(true, conf.get(org.apache.flink.configuration.CheckpointingOptions.ENABLE_UNALIGNED));

    StreamJobConfig bad = StreamJobConfig.fromArgs("--output-dir", tmp.resolve("b").toString(), "--dataset",
        "synthetic", "--retrieval.enabled", "true", "--retrieval.rocksdb_write_buffer", "4 parsecs");
    assertEquals("4 parsecs", bad.retrieval.rocksdbWriteBuffer, "not the number 4 and the rest dropped");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> StreamingJob.build(JobEnvironment.environment(bad), bad, TrainerFactory.DEFAULT));
    assertTrue(e.getMessage().contains("retrieval.rocksdb_write_buffer") && e.getMessage().contains("4 parsecs"),
        e.getMessage());
  }

  @Test
  void badRetrievalKeysAreRejectedByName() {
    RetrievalStage.Config c = new RetrievalStage.Config();
    c.builderPriority = "urgent";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.settings(8));
    assertTrue(e.getMessage().contains("retrieval.builder_priority"), e.getMessage());
    c.builderPriority = "low";
    c.previousVersionGrace = -3;
    e = assertThrows(IllegalArgumentException.class, () -> c.settings(8));
    assertTrue(e.getMessage().contains("previous_version_grace"), e.getMessage());
    c.previousVersionGrace = 0.25;
    assertEquals(250, c.settings(8).previousVersionGraceMs());
    assertEquals(BackgroundPriority.LOW, c.settings(8).builderPriority());
    c.readyTimeout = -1;
    e = assertThrows(IllegalArgumentException.class, c::readyTimeoutMillis);
    assertTrue(e.getMessage().contains("retrieval.ready_timeout"), e.getMessage());
    c.readyTimeout = 0;
    assertEquals(0, c.readyTimeoutMillis());
    c.readyTimeout = 2.5;
    assertEquals(2500, c.readyTimeoutMillis());
  }
}
