package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.client.program.StreamContextEnvironment;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The pml4j streaming job: online metric learning on a labeled stream, publishing versioned ONNX models, embedding a
 * query stream with the newest model and measuring retrieval accuracy per model version on a held-out stream.
 *
 * <pre>
 *  train source ─► validate ─(bad)─► rejected.jsonl (+ counter)
 *                     │
 *                     ├─► TrainerOperator (p=1) ─► ModelUpdate ─┬─► ModelPublisherSink ─► DIR/models (ONNX + manifest)
 *                     │                                         ├─► model_updates.jsonl
 *                     │                                         ├─► RetrievalEvaluator ◄─ validate ◄─ held-out source
 *                     │                                         │        └─► evaluations.jsonl
 *                     └─► queries (every k-th) ─► EmbedOperator (p=N, model broadcast) ─► embeddings
 * </pre>
 *
 * (The trainer also sends the records of a step it skipped as non-finite to rejected.jsonl, reason
 * {@code nonfinite_step}. With {@code queries = heldout} the embed operator serves the held-out stream instead. The
 * evaluator scores versions on a background thread, which versions is {@code evaluate}: {@code latest}, {@code every}
 * or {@code none} — see {@link EvalPolicy}.)
 *
 * <p>The job's parts: {@link StreamTopology} (the dataflow, with {@link StreamInputs} and {@link ReportLines}),
 * {@link JobEnvironment} (Flink configuration and environment), {@link EmbeddedRunner} (the MiniCluster run) and
 * {@link StreamReport} (summary.json); {@link OutputDirectory} owns the files outside Flink's sinks. {@link #run}
 * starts an embedded MiniCluster with the Flink Web UI on localhost (its address is printed), submits the job, waits
 * for it, and writes {@code DIR/summary.json}:
 *
 * <pre>{@code
 * {"model_versions": 11, "final": {"version", "step", "precision_at_1", "mean_average_precision_at_r"},
 *  "untrained": {...}, "samples_per_sec": ..., "rejected": 0, "skipped_nonfinite": 0,
 *  "refresh_latency_ms": {"p50", "max", "count"}, ...}
 * }</pre>
 *
 * <p>Checkpoints go to {@code DIR/checkpoints} (filesystem storage) every {@code checkpoint_interval_ms}; a task
 * failure restarts from the last one (fixed delay, 3 attempts). The trainer comes from a {@link TrainerFactory};
 * {@link TrainerFactory#DEFAULT} is {@code org.pml4j.train.Trainers.fromConfig}. With {@code duration_seconds} the
 * job is stopped after that long with a draining savepoint, which ends the input and publishes the final model.
 *
 * <p><b>On a Flink cluster</b> ({@code flink run}), build the same topology with {@link #build} in a main class (as
 * {@link #main} does). Put the Bytedeco (pytorch, openblas, javacpp) and ONNX Runtime jars into Flink's {@code lib/}
 * and set {@code classloader.parent-first-patterns.additional: org.bytedeco.;ai.onnxruntime.}: a second job in the
 * same TaskManager otherwise loads a second {@code libtorch_cpu.so} from its user-code class loader and aborts the
 * process. (Or run one job per TaskManager, application mode.) In the embedded MiniCluster all jobs share the
 * application class loader, so this does not arise.
 */
public final class StreamingJob {
  private StreamingJob() {}

  /** The output names, defined by {@link OutputDirectory} (the job's public names for them). */
  public static final String MODELS = OutputDirectory.MODELS;
  public static final String CHECKPOINTS = OutputDirectory.CHECKPOINTS;
  public static final String SAVEPOINTS = OutputDirectory.SAVEPOINTS;
  public static final String SUMMARY = OutputDirectory.SUMMARY;
  public static final String EVALUATIONS = OutputDirectory.EVALUATIONS;
  public static final String MODEL_UPDATES = OutputDirectory.MODEL_UPDATES;
  public static final String REJECTED = OutputDirectory.REJECTED;
  public static final String EMBEDDINGS = OutputDirectory.EMBEDDINGS;

  /**
   * Adds the whole topology to {@code env} (sources, validation, trainer, publisher, embed operator, evaluator and the
   * report sinks under {@code c.outputDir}); see {@link StreamTopology}.
   */
  public static void build(StreamExecutionEnvironment env, StreamJobConfig c, TrainerFactory factory) {
    StreamTopology.build(env, c, factory);
  }

  /**
   * Runs the job in an embedded MiniCluster with the Web UI on localhost, waits for it and writes
   * {@code summary.json} (see {@link EmbeddedRunner}). The output directory is prepared by
   * {@link OutputDirectory#prepare}: a non-empty directory that pml4j did not write is refused, and only an earlier
   * run's own outputs are deleted.
   *
   * @param log where progress lines (the Web UI address) go
   * @return the summary
   */
  public static JsonNode run(StreamJobConfig c, TrainerFactory factory, PrintStream log) throws Exception {
    return EmbeddedRunner.run(c, factory, log);
  }

  /**
   * Command line: {@code StreamingJob [--config FILE] [--key value ...]} (see {@link StreamJobConfig}). Uses
   * {@link TrainerFactory#DEFAULT}. Started by {@code flink run} (the shaded {@code pml4j-flink-<version>-job.jar}),
   * it submits the topology to that cluster; started any other way, it runs {@link #run} in an embedded MiniCluster.
   */
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && (args[0].equals("-h") || args[0].equals("--help"))) {
      System.out.println("usage: StreamingJob [--config FILE.json] [--key value ...] (keys also kebab-case)\n"
          + JobConfigReader.keysHelp());
      return;
    }
    StreamJobConfig c = StreamJobConfig.fromArgs(args);
    StreamExecutionEnvironment env = JobEnvironment.environment(c);
    if (env instanceof StreamContextEnvironment) {
      // Submitted with `flink run` (the CLI installed its context environment): build the topology into it and let
      // the cluster run it. output_dir must be a path that every TaskManager can write (a shared mount).
      String dir = OutputDirectory.prepare(c.outputDir, c.restoreFrom);
      build(env, c, TrainerFactory.DEFAULT);
      long t0 = System.nanoTime();
      JobExecutionResult r = env.execute("pml4j-stream-" + c.dataset);
      if (!r.isJobExecutionResult()) { // flink run -d: the client does not wait for the job
        System.out.println("pml4j stream: job " + r.getJobID() + " submitted detached; outputs in " + c.outputDir
            + " (no summary.json: the client did not wait for the job)");
        return;
      }
      System.out.println("pml4j stream: job " + r.getJobID() + " finished in " + r.getNetRuntime() + " ms; "
          + "rejected " + r.getAccumulatorResult(ValidateFunction.ACCUMULATOR) + "; outputs in " + c.outputDir);
      StreamReport.write(c, dir, r, (System.nanoTime() - t0) / 1e9, null, System.out);
      return;
    }
    run(c, TrainerFactory.DEFAULT, System.out);
  }
}
