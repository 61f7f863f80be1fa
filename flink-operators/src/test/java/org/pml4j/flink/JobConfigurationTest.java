package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's Flink settings are defaults under a cluster's configuration; the job config becomes global job
 * parameters; the output directory is prepared without deleting what pml4j did not write.
 */
class JobConfigurationTest {
  @TempDir
  Path tmp;

  @Test
  void withAnEmptyClusterConfigurationTheJobDefaultsApply() {
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", tmp.toString());
    Configuration conf = JobEnvironment.jobConfiguration(c, new Configuration());
    assertEquals("filesystem", conf.get(CheckpointingOptions.CHECKPOINT_STORAGE));
    assertEquals(tmp.resolve("checkpoints").toUri().toString(), conf.get(CheckpointingOptions.CHECKPOINTS_DIRECTORY));
    assertEquals("fixed-delay", conf.get(RestartStrategyOptions.RESTART_STRATEGY));
    assertEquals(3, conf.get(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS));
  }

  @Test
  void theClustersSettingsWin() {
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", tmp.toString());
    Configuration cluster = new Configuration();
    cluster.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, "s3://bucket/checkpoints");
    cluster.set(RestartStrategyOptions.RESTART_STRATEGY, "exponential-delay");
    Configuration conf = JobEnvironment.jobConfiguration(c, cluster);
    assertFalse(conf.contains(CheckpointingOptions.CHECKPOINTS_DIRECTORY), conf.toString());
    assertFalse(conf.contains(CheckpointingOptions.CHECKPOINT_STORAGE), conf.toString());
    assertFalse(conf.contains(RestartStrategyOptions.RESTART_STRATEGY), conf.toString());
    assertFalse(conf.contains(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS), conf.toString());
  }

  @Test
  void theEnvironmentCarriesTheJobConfigAsGlobalJobParameters() {
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", tmp.toString(), "--batch-size", "48",
        "--synthetic.classes", "7", "--checkpoint-interval-ms", "1500");
    StreamExecutionEnvironment env = JobEnvironment.environment(c);
    Map<String, String> p = env.getConfig().getGlobalJobParameters().toMap();
    assertEquals("48", p.get("batch_size"));
    assertEquals("7", p.get("synthetic.classes"));
    assertEquals("synthetic", p.get("dataset"));
    assertTrue(p.containsKey("restore_from"), p.toString());
    assertEquals(1500, env.getCheckpointConfig().getCheckpointInterval());
  }

  /**
   * An unset checkpoint_interval_ms is 2 s, or 10 s with retrieval on (its shards' inputs are aligned at every
   * checkpoint); a set one wins either way; 0 turns checkpoints off; a negative one is refused by name.
   */
  @Test
  void checkpointIntervalDefaultsToTenSecondsWithRetrieval() {
    String out = tmp.toString();
    assertEquals(2000, JobEnvironment.environment(StreamJobConfig.fromArgs("--output-dir", out))
        .getCheckpointConfig().getCheckpointInterval());
    assertEquals(10_000, JobEnvironment.environment(StreamJobConfig.fromArgs("--output-dir", out,
        "--retrieval.enabled", "true")).getCheckpointConfig().getCheckpointInterval());
    assertEquals(300, JobEnvironment.environment(StreamJobConfig.fromArgs("--output-dir", out,
        "--retrieval.enabled", "true", "--checkpoint-interval-ms", "300")).getCheckpointConfig()
        .getCheckpointInterval());
    assertFalse(JobEnvironment.environment(StreamJobConfig.fromArgs("--output-dir", out, "--checkpoint-interval-ms",
        "0")).getCheckpointConfig().isCheckpointingEnabled());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JobEnvironment.environment(StreamJobConfig.fromArgs("--output-dir", out, "--checkpoint-interval-ms",
            "-5")));
    assertTrue(e.getMessage().contains("checkpoint_interval_ms"), e.getMessage());
  }

  @Test
  void outputDirectoryRules() throws Exception {
    // A user's directory: refused, untouched.
    Path mine = Files.createDirectories(tmp.resolve("mine"));
    Files.writeString(mine.resolve("notes.txt"), "mine");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OutputDirectory.prepare(mine.toString(), null));
    assertTrue(e.getMessage().contains("not a pml4j stream output"), e.getMessage());
    assertFalse(Files.exists(mine.resolve(OutputDirectory.MARKER)));

    // A pml4j directory: the previous run's files go, a user's file stays.
    Path run = tmp.resolve("run");
    OutputDirectory.prepare(run.toString(), null);
    assertTrue(Files.exists(run.resolve(OutputDirectory.MARKER)));
    Path models = Files.createDirectories(run.resolve("models"));
    Files.writeString(models.resolve("model-v0000000001.onnx"), "x");
    Files.writeString(models.resolve("manifest.json"), "{}");
    Files.writeString(models.resolve("important-model.onnx"), "keep");
    Path chk = Files.createDirectories(run.resolve("checkpoints/0123456789abcdef0123456789abcdef/chk-3"));
    Files.writeString(chk.resolve("_metadata"), "m");
    Path sp = Files.createDirectories(run.resolve("savepoints/savepoint-0123ab-456789abcdef"));
    Files.writeString(sp.resolve("_metadata"), "m");
    Files.writeString(run.resolve(StreamingJob.MODEL_UPDATES), "{}\n");

    // Restoring from a savepoint inside the directory deletes nothing.
    OutputDirectory.prepare(run.toString(), sp.toUri().toString());
    assertTrue(Files.exists(sp.resolve("_metadata")) && Files.exists(chk.resolve("_metadata")));
    assertTrue(Files.exists(models.resolve("model-v0000000001.onnx")));
    assertTrue(Files.exists(run.resolve(StreamingJob.MODEL_UPDATES)));

    // A fresh run.
    OutputDirectory.prepare(run.toString(), null);
    assertFalse(Files.exists(models.resolve("model-v0000000001.onnx")));
    assertFalse(Files.exists(models.resolve("manifest.json")));
    assertFalse(Files.exists(chk.getParent()));
    assertFalse(Files.exists(sp));
    assertFalse(Files.exists(run.resolve(StreamingJob.MODEL_UPDATES)));
    assertEquals("keep", Files.readString(models.resolve("important-model.onnx")));

    Path file = Files.writeString(tmp.resolve("afile"), "f");
    assertThrows(IllegalArgumentException.class, () -> OutputDirectory.prepare(file.toString(), null));
  }

  /** The embedded run notes replicas that would take every core (no speed-up measured there), and only then. */
  @Test
  void replicasThatTakeEveryCoreAreNoted() {
    assertNull(EmbeddedRunner.coresNote(1, 2, 2), "one replica: nothing to note");
    assertNull(EmbeddedRunner.coresNote(2, 1, 4), "a core to spare");
    assertNull(EmbeddedRunner.coresNote(3, 1, 4), "a core to spare");
    String note = EmbeddedRunner.coresNote(2, 1, 2);
    assertTrue(note != null && note.contains("2 trainer replicas x 1 thread(s) on 2 cores"), String.valueOf(note));
    assertTrue(EmbeddedRunner.coresNote(2, 2, 4) != null, "2 x 2 threads take all 4 cores");
    assertTrue(EmbeddedRunner.coresNote(2, 0, 2) != null, "threads 0 counts as 1");
  }
}
