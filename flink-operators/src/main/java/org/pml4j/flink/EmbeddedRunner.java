package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Runs the stream job in an embedded {@link MiniCluster} (one TaskManager) with the Flink Web UI on localhost: prepares
 * the output directory, submits the topology, stops it with a draining savepoint after {@code duration_seconds},
 * waits for it and writes {@code summary.json} ({@link StreamReport}).
 */
final class EmbeddedRunner {
  private EmbeddedRunner() {}

  /** See {@link StreamingJob#run}. */
  @SuppressWarnings("try")
  static JsonNode run(StreamJobConfig c, TrainerFactory factory, PrintStream log) throws Exception {
    if (c.dataset.equals("csv") || c.dataset.equals("jsonl")) {
      StreamInputs.inputPath("train_path", c.trainPath); // before anything starts or is removed
      StreamInputs.inputPath("heldout_path", c.heldoutPath);
    }
    String dir = OutputDirectory.prepare(c.outputDir, c.restoreFrom);
    OutputDirectory.writeAtomically(dir, OutputDirectory.CONFIG, c.toJson());
    long t0 = System.nanoTime();
    try (MiniCluster mc = new MiniCluster(clusterConfiguration(c))) {
      mc.start();
      URI ui = mc.getRestAddress().get();
      log.println("pml4j stream: Flink Web UI at " + ui + " (dataset " + c.dataset + ", output " + dir + ")");
      StreamExecutionEnvironment env = JobEnvironment.environment(c);
      String cores = coresNote(c.trainerParallelism, StreamTopology.trainerConfig(c).threads(),
          Runtime.getRuntime().availableProcessors());
      if (cores != null) {
        log.println(cores);
      }
      StreamTopology.build(env, c, factory);
      JobGraph job = env.getStreamGraph().getJobGraph();
      if (c.restoreFrom != null && !c.restoreFrom.isBlank()) {
        // env.execute() would take this from the configuration; a JobGraph submitted directly needs it set.
        job.setSavepointRestoreSettings(
            SavepointRestoreSettings.forPath(OutputFileSystem.uri(c.restoreFrom), false));
        log.println("pml4j stream: restoring from " + c.restoreFrom);
      }
      mc.submitJob(job).get();
      log.println("pml4j stream: submitted job " + job.getJobID());
      JobExecutionResult r = await(mc, job, c, dir, log).toJobExecutionResult(EmbeddedRunner.class.getClassLoader());
      double seconds = (System.nanoTime() - t0) / 1e9;
      ObjectNode summary = StreamReport.write(c, dir, r, seconds, ui.toString(), log);
      if (c.keepUiSeconds > 0) {
        log.println("pml4j stream: Web UI stays up for " + c.keepUiSeconds + " s at " + ui);
        Thread.sleep(c.keepUiSeconds * 1000L);
      }
      return summary;
    }
  }

  /**
   * A note when the trainer's replicas would take every core of this machine: data-parallel replicas are faster
   * than one only with cores to spare for the sources, serialization and Flink's own threads (measured on 2 cores:
   * 2 replicas of 1 thread trained at 0.73-0.97x the samples/s of 1; README, "Streaming: data-parallel training").
   *
   * @return the note, or null when {@code replicas} is 1 or {@code replicas x threads} leaves a core free
   */
  static String coresNote(int replicas, int threads, int cores) {
    if (replicas <= 1 || (long) replicas * Math.max(1, threads) < cores) {
      return null;
    }
    return "pml4j stream: note: " + replicas + " trainer replicas x " + Math.max(1, threads) + " thread(s) on "
        + cores + " cores leave none for the sources and Flink: expect no speed-up over --parallelism 1 here "
        + "(measured on 2 cores: 0.73-0.97x); give each replica its own cores and keep one free";
  }

  /** One TaskManager with enough slots for the job, its REST endpoint (the Web UI) on localhost. */
  private static MiniClusterConfiguration clusterConfiguration(StreamJobConfig c) {
    Configuration cluster = new Configuration();
    cluster.set(RestOptions.ADDRESS, "localhost");
    cluster.set(RestOptions.BIND_ADDRESS, "localhost");
    cluster.set(RestOptions.BIND_PORT, Integer.toString(c.webUiPort));
    int slots = c.slots > 0 ? c.slots
        : Math.max(c.trainerParallelism, Math.max(c.embedParallelism, c.retrieval.enabled ? c.retrieval.shards : 1));
    return new MiniClusterConfiguration.Builder().setConfiguration(cluster)
        .setNumTaskManagers(1).setNumSlotsPerTaskManager(slots).build();
  }

  /**
   * The job's result: when it ends, or, past {@code duration_seconds}, after a stop with a draining savepoint into
   * {@code DIR/savepoints} (the sources end, the trainer publishes its final model).
   */
  private static JobResult await(MiniCluster mc, JobGraph job, StreamJobConfig c, String dir, PrintStream log)
      throws Exception {
    if (c.durationSeconds <= 0) {
      return mc.requestJobResult(job.getJobID()).get();
    }
    try {
      return mc.requestJobResult(job.getJobID()).get(Math.round(c.durationSeconds * 1000), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      log.println("pml4j stream: duration of " + c.durationSeconds + " s reached; stopping the job with a "
          + "draining savepoint (the trainer publishes its final model)");
      String sp = mc.stopWithSavepoint(job.getJobID(), OutputFileSystem.child(dir, OutputDirectory.SAVEPOINTS), true,
          SavepointFormatType.CANONICAL).get();
      log.println("pml4j stream: savepoint " + sp + " (continue this run in the same directory with "
          + "--set restore_from=" + sp + ")");
      return mc.requestJobResult(job.getJobID()).get();
    }
  }
}
