package org.pml4j.flink;

import java.nio.file.Path;
import java.time.Duration;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The Flink side of the stream job's configuration: the job-level {@link Configuration} (checkpoint storage, restart
 * strategy, restore path, as defaults under a cluster's own settings) and the {@link StreamExecutionEnvironment}
 * that both the embedded runner and {@code flink run} build the topology into.
 */
public final class JobEnvironment {
  private JobEnvironment() {}

  /** The job-level Flink configuration with every default of the job (as for an empty cluster configuration). */
  public static Configuration jobConfiguration(StreamJobConfig c) {
    return jobConfiguration(c, new Configuration());
  }

  /**
   * The job-level Flink configuration: no generic (Kryo) types, the job name, the restore path; and, only where the
   * cluster's configuration {@code cluster} sets nothing, the job's defaults: filesystem checkpoint storage in
   * {@code DIR/checkpoints} (when neither {@code execution.checkpointing.storage} nor {@code .dir} is set), retained
   * externalized checkpoints, and a fixed-delay restart strategy (3 attempts, 1 s apart). Under {@code flink run} the
   * cluster's {@code config.yaml} (and {@code -D} options) therefore win.
   */
  public static Configuration jobConfiguration(StreamJobConfig c, ReadableConfig cluster) {
    Configuration conf = new Configuration();
    conf.set(PipelineOptions.GENERIC_TYPES, false);
    if (cluster.getOptional(PipelineOptions.NAME).isEmpty()) {
      conf.set(PipelineOptions.NAME, "pml4j-stream-" + c.dataset);
    }
    if (cluster.getOptional(CheckpointingOptions.CHECKPOINT_STORAGE).isEmpty()
        && cluster.getOptional(CheckpointingOptions.CHECKPOINTS_DIRECTORY).isEmpty()) {
      conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
      conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY,
          OutputFileSystem.child(c.outputDir, OutputDirectory.CHECKPOINTS));
    }
    if (c.retainCheckpoints && cluster.getOptional(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION).isEmpty()) {
      conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
          ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
    }
    if (c.restoreFrom != null && !c.restoreFrom.isBlank()) {
      conf.set(StateRecoveryOptions.SAVEPOINT_PATH, OutputDirectory.restoreUri(c.restoreFrom));
    }
    if (cluster.getOptional(RestartStrategyOptions.RESTART_STRATEGY).isEmpty()) {
      conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
      conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
      conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofSeconds(1));
    }
    return conf;
  }

  /**
   * A fresh environment for the job. The configuration it starts with (under {@code flink run}: the cluster's) is
   * kept; the job adds {@link #jobConfiguration(StreamJobConfig, ReadableConfig)} and enables checkpointing every
   * {@code checkpoint_interval_ms} unless that configuration sets {@code execution.checkpointing.interval}. The job's
   * configuration is set as global job parameters (the Web UI's Configuration tab shows it).
   */
  public static StreamExecutionEnvironment environment(StreamJobConfig c) {
    ReadableConfig cluster = StreamExecutionEnvironment.getExecutionEnvironment().getConfiguration();
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(jobConfiguration(c, cluster));
    env.setParallelism(1);
    if (c.checkpointIntervalMs > 0 && cluster.getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL).isEmpty()) {
      env.enableCheckpointing(c.checkpointIntervalMs);
    }
    env.getConfig().setGlobalJobParameters(Configuration.fromMap(c.toFlatMap()));
    return env;
  }
}
