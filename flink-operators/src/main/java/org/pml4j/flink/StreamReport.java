package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.JobExecutionResult;

/**
 * The stream job's {@code summary.json}, built after the job from its report lines ({@code model_updates.jsonl},
 * {@code evaluations.jsonl}, the last line per model version) and its accumulators:
 *
 * <pre>{@code
 * {"model_versions": 11, "evaluated_versions": 3, "versions": [{"version", "step", "published_at_ms", "loss", ...}],
 *  "final": {"version", "step", "precision_at_1", "mean_average_precision_at_r", "samples"}, "untrained": {...},
 *  "samples_per_sec": ..., "wall_samples_per_sec": ..., "trainer_busy_share": ..., "steady_samples_per_sec": ...,
 *  "parallelism": 1, "replicas_identical": true, "all_reduce_seconds" and "all_reduce_share" (with replicas),
 *  "rejected": 0, "skipped_nonfinite": 0, "refresh_latency_ms": {"p50", "max", "count"}, ...}
 * }</pre>
 */
final class StreamReport {
  /** {@code steady_samples_per_sec} leaves out the steps before the first version at this step. */
  static final long STEADY_AFTER_STEPS = 50;

  private StreamReport() {}

  /**
   * Summarizes a finished run ({@link #summarize}, plus the dataset and, with retrieval, its {@code "retrieval"}
   * object), writes it to {@code DIR/summary.json} and prints it on {@code log}: after an embedded run and after an
   * attached {@code flink run} alike.
   *
   * @param webUi the Web UI address, or null when unknown (a cluster's)
   */
  static ObjectNode write(StreamJobConfig c, String dir, JobExecutionResult r, double jobSeconds, String webUi,
      java.io.PrintStream log) throws IOException {
    ObjectNode summary = summarize(dir, r, jobSeconds, webUi);
    summary.put("dataset", c.dataset);
    if (c.retrieval.enabled) {
      // local outputs only, see README
      summary.set("retrieval", RetrievalStage.summarize(java.nio.file.Path.of(java.net.URI.create(dir)), c, r));
      log.println("pml4j stream: retrieval " + summary.get("retrieval"));
    }
    OutputDirectory.writeAtomically(dir, OutputDirectory.SUMMARY, StreamJobConfig.JSON.writeValueAsString(summary));
    log.println("pml4j stream: " + oneLine(summary));
    log.println("pml4j stream: wrote " + OutputFileSystem.child(dir, OutputDirectory.SUMMARY));
    return summary;
  }

  static ObjectNode summarize(String dir, JobExecutionResult r, double jobSeconds, String webUi) throws IOException {
    TreeMap<Long, JsonNode> evals = lastByVersion(dir, OutputDirectory.EVALUATIONS);
    TreeMap<Long, JsonNode> updates = lastByVersion(dir, OutputDirectory.MODEL_UPDATES);
    ObjectNode s = StreamJobConfig.JSON.createObjectNode();
    s.put("model_versions", updates.size());
    s.put("evaluated_versions", evals.size());
    versions(s.putArray("versions"), updates, evals);
    if (!evals.isEmpty()) {
      s.set("final", evalNode(evals.lastEntry().getValue()));
      s.set("untrained", evals.containsKey(0L) ? evalNode(evals.get(0L)) : StreamJobConfig.JSON.nullNode());
    }
    if (!updates.isEmpty()) {
      throughput(s, updates);
    }
    s.put("job_seconds", jobSeconds);
    s.put("rejected", count(r.getAccumulatorResult(ValidateFunction.ACCUMULATOR)));
    s.put("skipped_nonfinite", count(r.getAccumulatorResult(TrainerOperator.SKIPPED_ACCUMULATOR)));
    refreshLatency(s.putObject("refresh_latency_ms"), r.getAccumulatorResult(EmbedOperator.LATENCY_ACCUMULATOR));
    if (webUi != null) {
      s.put("web_ui", webUi);
    }
    s.put("net_runtime_ms", r.getNetRuntime());
    return s;
  }

  /** One row per published version: step, time, loss (null for the untrained v0) and its scores if evaluated. */
  private static void versions(ArrayNode out, Map<Long, JsonNode> updates, Map<Long, JsonNode> evals) {
    for (Map.Entry<Long, JsonNode> e : updates.entrySet()) {
      ObjectNode v = out.addObject();
      v.put("version", e.getKey());
      long step = e.getValue().path("step").asLong();
      v.put("step", step);
      v.put("published_at_ms", e.getValue().path("created_at_ms").asLong());
      v.put("samples", e.getValue().path("metrics").path(TrainerOperator.METRIC_SAMPLES).asLong());
      if (step == 0) { // the untrained encoder: no loss yet
        v.putNull("loss");
        v.putNull("last_step_loss");
      } else {
        v.put("loss", e.getValue().path("metrics").path(TrainerOperator.METRIC_LOSS).asDouble());
        v.put("last_step_loss", e.getValue().path("metrics").path(TrainerOperator.METRIC_LAST_LOSS).asDouble());
      }
      JsonNode ev = evals.get(e.getKey());
      if (ev != null) {
        v.put("precision_at_1", ev.path("precision_at_1").asDouble());
        v.put("mean_average_precision_at_r", ev.path("mean_average_precision_at_r").asDouble());
        v.put("evaluated_at_ms", ev.path("evaluated_at_ms").asLong());
      }
    }
  }

  /**
   * The trainer's figures from the versions' metrics: {@code samples_per_sec} counts only the time inside train steps
   * (the trainer's speed); {@code wall_samples_per_sec} is the job's throughput from the first published version to
   * the last, waits for input included; {@code steady_samples_per_sec} is the speed inside train steps from the first
   * version at or after {@link #STEADY_AFTER_STEPS} steps (warm-up excluded) to the last.
   */
  private static void throughput(ObjectNode s, TreeMap<Long, JsonNode> updates) {
    JsonNode last = updates.lastEntry().getValue();
    JsonNode metrics = last.path("metrics");
    s.put("final_step", last.path("step").asLong());
    s.put("samples", metrics.path(TrainerOperator.METRIC_SAMPLES).asLong());
    s.put("parallelism", metrics.path(TrainerOperator.METRIC_PARALLELISM).asInt(1));
    s.put("replicas_identical", updates.values().stream().allMatch(
        u -> u.path("metrics").path(TrainerOperator.METRIC_REPLICAS_IDENTICAL).asDouble(1) == 1));
    s.put("train_seconds", metrics.path(TrainerOperator.METRIC_TRAIN_SECONDS).asDouble());
    s.put("samples_per_sec", metrics.path(TrainerOperator.METRIC_SAMPLES_PER_SEC).asDouble());
    if (metrics.has(TrainerOperator.METRIC_ALL_REDUCE_SECONDS)) {
      // Rank 0's (it publishes): time in the gradient all-reduce, waits for the peers included, and its share of the
      // time in train steps.
      double allReduce = metrics.path(TrainerOperator.METRIC_ALL_REDUCE_SECONDS).asDouble();
      double train = metrics.path(TrainerOperator.METRIC_TRAIN_SECONDS).asDouble();
      s.put("all_reduce_seconds", allReduce);
      s.put("all_reduce_share", train > 0 ? allReduce / train : 0.0);
    }
    JsonNode first = updates.firstEntry().getValue();
    double wall = (last.path("created_at_ms").asLong() - first.path("created_at_ms").asLong()) / 1000.0;
    if (wall > 0 && first != last) {
      s.put("wall_seconds", wall);
      s.put("wall_samples_per_sec", delta(first, last, TrainerOperator.METRIC_SAMPLES) / wall);
      s.put("trainer_busy_share", Math.min(1.0, delta(first, last, TrainerOperator.METRIC_TRAIN_SECONDS) / wall));
    } else {
      s.putNull("wall_seconds");
      s.putNull("wall_samples_per_sec");
      s.putNull("trainer_busy_share");
    }
    double cpu = metrics.path(TrainerOperator.METRIC_TRAIN_CPU_SECONDS).asDouble();
    s.put("train_cpu_seconds", cpu);
    s.put("samples_per_cpu_sec", cpu > 0 ? metrics.path(TrainerOperator.METRIC_SAMPLES).asDouble() / cpu : 0.0);
    JsonNode from = null;
    for (JsonNode u : updates.values()) {
      if (u.path("step").asLong() >= STEADY_AFTER_STEPS) {
        from = u;
        break;
      }
    }
    if (from != null && from != last) {
      double ds = delta(from, last, TrainerOperator.METRIC_SAMPLES);
      double dt = delta(from, last, TrainerOperator.METRIC_TRAIN_SECONDS);
      s.put("steady_samples_per_sec", dt > 0 ? ds / dt : 0.0);
      s.put("steady_from_step", from.path("step").asLong());
    } else {
      s.putNull("steady_samples_per_sec");
    }
  }

  /** A metric of version {@code to} minus that of version {@code from} (a missing one counts as 0). */
  private static double delta(JsonNode from, JsonNode to, String metric) {
    return to.path("metrics").path(metric).asDouble() - from.path("metrics").path(metric).asDouble(0);
  }

  private static long count(Object accumulator) {
    return accumulator == null ? 0 : ((Number) accumulator).longValue();
  }

  /** p50, max and count of the embed operator's refresh latencies (its accumulator: a histogram ms → count). */
  private static void refreshLatency(ObjectNode lat, Object hist) {
    List<Integer> values = new ArrayList<>();
    if (hist instanceof Map<?, ?> h) {
      for (Map.Entry<?, ?> e : new TreeMap<>(h).entrySet()) {
        for (int i = 0; i < ((Number) e.getValue()).intValue(); i++) {
          values.add(((Number) e.getKey()).intValue());
        }
      }
    }
    if (values.isEmpty()) {
      lat.putNull("p50");
      lat.putNull("max");
    } else {
      lat.put("p50", values.get((values.size() - 1) / 2));
      lat.put("max", values.get(values.size() - 1));
    }
    lat.put("count", values.size());
  }

  private static ObjectNode evalNode(JsonNode e) {
    ObjectNode n = StreamJobConfig.JSON.createObjectNode();
    n.put("version", e.path("version").asLong());
    n.put("step", e.path("step").asLong());
    n.put("precision_at_1", e.path("precision_at_1").asDouble());
    n.put("mean_average_precision_at_r", e.path("mean_average_precision_at_r").asDouble());
    n.put("samples", e.path("samples").asInt());
    return n;
  }

  /** The last line per model version of a report file (after a recovery a version's line can appear twice). */
  private static TreeMap<Long, JsonNode> lastByVersion(String dir, String file) throws IOException {
    TreeMap<Long, JsonNode> out = new TreeMap<>();
    for (String line : OutputDirectory.readLines(dir, file)) {
      if (!line.isBlank()) {
        JsonNode n = StreamJobConfig.JSON.readTree(line);
        out.put(n.path("version").asLong(), n);
      }
    }
    return out;
  }

  /** The summary in one line, for the log. */
  static String oneLine(JsonNode s) {
    return String.format(Locale.ROOT, "%d model versions (%d evaluated); untrained %s; final %s; %.0f "
        + "samples/s wall-clock (trainer busy %.0f %% of the time, %.0f samples/s inside train steps); %d rejected; "
        + "refresh latency p50=%s ms max=%s ms",
        s.path("model_versions").asInt(), s.path("evaluated_versions").asInt(), quality(s.path("untrained")),
        quality(s.path("final")), s.path("wall_samples_per_sec").asDouble(Double.NaN),
        100 * s.path("trainer_busy_share").asDouble(Double.NaN), s.path("samples_per_sec").asDouble(),
        s.path("rejected").asLong(),
        s.path("refresh_latency_ms").path("p50").asText(), s.path("refresh_latency_ms").path("max").asText());
  }

  private static String quality(JsonNode e) {
    return e.isMissingNode() || e.isNull() ? "not evaluated" : String.format("precision_at_1=%.4f MAP@R=%.4f",
        e.path("precision_at_1").asDouble(), e.path("mean_average_precision_at_r").asDouble());
  }
}
