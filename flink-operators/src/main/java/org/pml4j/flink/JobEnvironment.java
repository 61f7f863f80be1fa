package org.pml4j.flink;

import java.nio.file.Path;
import java.time.Duration;
import org.apache.flink.client.program.StreamContextEnvironment;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
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
      conf.set(StateRecoveryOptions.SAVEPOINT_PATH, OutputFileSystem.uri(c.restoreFrom));
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
   * {@code checkpoint_interval_ms} ({@link StreamJobConfig#checkpointInterval()}) unless that configuration sets
   * {@code execution.checkpointing.interval}. The job's configuration is set as global job parameters (the Web UI's
   * Configuration tab shows it). Every operator runs at parallelism 1 except the trainer's replicas and those with a
   * parallelism key of their own; an unset {@code trainer_parallelism} (0) is resolved in {@code c} here
   * ({@link #trainerParallelism(int, int, boolean)}).
   */
  public static StreamExecutionEnvironment environment(StreamJobConfig c) {
    StreamExecutionEnvironment submitted = StreamExecutionEnvironment.getExecutionEnvironment();
    c.trainerParallelism = trainerParallelism(c, submitted);
    ReadableConfig cluster = submitted.getConfiguration();
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(jobConfiguration(c, cluster));
    env.setParallelism(1);
    long interval = c.checkpointInterval();
    if (interval > 0 && cluster.getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL).isEmpty()) {
      env.enableCheckpointing(interval);
    }
    env.getConfig().setGlobalJobParameters(Configuration.fromMap(c.toFlatMap()));
    return env;
  }

  /**
   * {@link #trainerParallelism(int, int, boolean)} for the environment the job was submitted with ({@code
   * StreamExecutionEnvironment.getExecutionEnvironment()}): a {@link StreamContextEnvironment} under {@code flink
   * run}, whose parallelism is {@code -p N} or the cluster's {@code parallelism.default}.
   */
  public static int trainerParallelism(StreamJobConfig c, StreamExecutionEnvironment submitted) {
    int job = submitted.getParallelism();
    if (job < 1) { // ExecutionConfig.PARALLELISM_DEFAULT: the configuration's default
      job = submitted.getConfiguration().get(CoreOptions.DEFAULT_PARALLELISM);
    }
    return trainerParallelism(c.trainerParallelism, job, submitted instanceof StreamContextEnvironment);
  }

  /**
   * The trainer's parallelism (its data-parallel replicas): {@code trainer_parallelism} ({@code --parallelism N})
   * when set; unset (0), the job's parallelism when the job is submitted to a cluster ({@code flink run -p N}, else
   * the cluster's {@code parallelism.default}: {@link StreamExecutionEnvironment#getParallelism()} of the environment
   * {@code flink run} installs), and 1 in the embedded runner (whose local environment's parallelism is the machine's
   * core count, not a choice of the user's).
   *
   * @param configured {@code trainer_parallelism}: 0 (unset) or the replicas
   * @param jobParallelism the submitting environment's parallelism
   * @param submittedToCluster whether the job runs under {@code flink run} (a {@link StreamContextEnvironment})
   * @throws IllegalArgumentException when {@code configured} is negative, or {@code jobParallelism} is below 1 where
   *     it is used
   */
  public static int trainerParallelism(int configured, int jobParallelism, boolean submittedToCluster) {
    if (configured < 0) {
      throw new IllegalArgumentException("trainer_parallelism must be >= 1 (or 0: the job's parallelism), got "
          + configured);
    }
    if (configured > 0) {
      return configured;
    }
    if (!submittedToCluster) {
      return 1;
    }
    if (jobParallelism < 1) {
      throw new IllegalArgumentException("the job's parallelism must be >= 1 for the trainer, got " + jobParallelism
          + " (set -p N, parallelism.default or trainer_parallelism)");
    }
    return jobParallelism;
  }
}
