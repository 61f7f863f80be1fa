package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.JobExecutionResult;
import org.pml4j.onnx.OnnxEncoder;

/**
 * The {@code "retrieval"} object of summary.json ({@link #summarize}), from the job's accumulators and the answers
 * file: what the index did, how fast, and whether every answer is of one model version and exact.
 */
final class RetrievalSummary {
  private RetrievalSummary() {}

  static ObjectNode percentiles(List<Long> values, String... names) {
    ObjectNode n = StreamJobConfig.JSON.createObjectNode();
    Collections.sort(values);
    for (String name : names) {
      if (values.isEmpty()) {
        n.putNull(name);
        continue;
      }
      double q = switch (name) {
        case "p50" -> 0.5;
        case "p99" -> 0.99;
        default -> 1.0;
      };
      int i = (int) Math.ceil(q * values.size()) - 1;
      n.put(name, values.get(Math.max(0, Math.min(values.size() - 1, i))));
    }
    return n;
  }

  /**
   * The {@code "retrieval"} object of summary.json.
   *
   * <ul>
   *   <li>{@code catalog_items}; {@code index_versions} (versions every shard served); {@code refresh_ms} {p50, max}
   *       per version, from its creation in the trainer to the last shard serving it, and {@code refresh_parts_ms}
   *       (medians over the versions, on the slowest shard): {@code arrive} (creation to the shard), {@code load}
   *       (ONNX Runtime session), {@code wait} (behind an older version's build), {@code build} (re-embedding) and
   *       {@code build_cpu} (the builder thread's CPU time in it: the rest of {@code build} it waited for a core).
   *   <li>{@code query_latency_ms} {p50, p99, max}: query in (validated) to merged answer out, every query;
   *       {@code query_latency_serving_ms}: the queries that entered once every shard served a version (the others,
   *       {@code queries_waited_for_first_index}, waited for the start-up or a restore);
   *       {@code query_latency_steady_ms} over the {@code queries_steady} that entered once the last query that waited
   *       for the start-up was answered; {@code query_latency_p99_per_1000}: p99 of each block of 1,000 answers in
   *       output order; {@code query_hops_ms} {to_shard, in_shard, to_merged} {p50, p99}: query in to the last
   *       shard beginning to answer it, the longest a shard took to answer it, and the rest of the latency (the way to
   *       the merger and the merge);
   *       {@code query_cpu_us_per_shard}: a shard's task-thread CPU time per query (embedding and scan, all versions).
   *   <li>{@code queries} (answered), {@code no_common_version}, {@code mixed_version_answers} (answers whose scores
   *       are not those of the query and the returned items all embedded by the answer's version's published ONNX
   *       model; answers whose model file is gone, or whose catalog the job cannot re-read, as from Kafka, are counted
   *       in {@code unchecked_answers}), {@code recall_at_10_vs_exact} (a sample of the answers given once the whole
   *       catalog was indexed, re-ranked by brute force with that version's ONNX model, in double precision; a near
   *       tie at the k-th place within {@link #RECALL_SCORE_TOLERANCE} counts as found), {@code precision_at_1} per
   *       version.
   * </ul>
   */
  static ObjectNode summarize(Path dir, StreamJobConfig c, JobExecutionResult r) throws IOException {
    RetrievalStage.Config rc = c.retrieval;
    ObjectNode s = StreamJobConfig.JSON.createObjectNode();
    Object items = r.getAccumulatorResult(RetrievalShard.ITEMS_ACCUMULATOR);
    s.put("catalog_items", items == null ? 0 : ((Number) items).longValue());
    refresh(s, r.getAccumulatorResult(RetrievalShard.REFRESHES_ACCUMULATOR), rc.shards);
    List<Long> lat = histogram(r.getAccumulatorResult(AnswerMerger.LATENCY_ACCUMULATOR));
    s.set("query_latency_ms", percentiles(lat, "p50", "p99", "max"));
    List<Long> serving = histogram(r.getAccumulatorResult(AnswerMerger.SERVING_LATENCY_ACCUMULATOR));
    s.set("query_latency_serving_ms", percentiles(serving, "p50", "p99", "max"));
    s.put("queries_waited_for_first_index", lat.size() - serving.size());
    s.set("query_cpu_us_per_shard", percentiles(histogram(r.getAccumulatorResult(ShardMetrics.QUERY_CPU_ACCUMULATOR)),
        "p50", "p99"));

    List<JsonNode> answers = new ArrayList<>();
    Path file = dir.resolve(RetrievalStage.ANSWERS);
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file)) {
        if (!line.isBlank()) {
          answers.add(StreamJobConfig.JSON.readTree(line));
        }
      }
    }
    // Steady state: the queries that entered once the last one that waited for the start-up was answered (the
    // start-up's queue drained).
    long drained = Long.MIN_VALUE;
    for (JsonNode a : answers) {
      if (a.path("waited").asBoolean()) {
        drained = Math.max(drained, a.path("in_ms").asLong() + a.path("latency_ms").asLong());
      }
    }
    List<Long> steady = new ArrayList<>();
    for (JsonNode a : answers) {
      if (a.path("in_ms").asLong() >= drained) {
        steady.add(a.path("latency_ms").asLong());
      }
    }
    s.set("query_latency_steady_ms", percentiles(steady, "p50", "p99", "max"));
    s.put("queries_steady", steady.size());
    ArrayNode perBlock = s.putArray("query_latency_p99_per_1000");
    for (int from = 0; from < answers.size(); from += 1000) {
      List<Long> b = new ArrayList<>();
      for (JsonNode a : answers.subList(from, Math.min(answers.size(), from + 1000))) {
        b.add(a.path("latency_ms").asLong());
      }
      perBlock.add(percentiles(b, "p99").get("p99"));
    }
    // Where the latency goes: to the shards (network, their input queues), in the shards (embedding and search),
    // and from the last shard's answer to the merged answer.
    List<Long> toShard = new ArrayList<>();
    List<Long> inShard = new ArrayList<>();
    List<Long> toMerged = new ArrayList<>();
    for (JsonNode a : answers) {
      long to = a.path("to_shard_ms").asLong();
      long in = a.path("in_shard_ms").asLong();
      toShard.add(to);
      inShard.add(in);
      toMerged.add(Math.max(0, a.path("latency_ms").asLong() - to - in));
    }
    ObjectNode hops = s.putObject("query_hops_ms");
    hops.set("to_shard", percentiles(toShard, "p50", "p99"));
    hops.set("in_shard", percentiles(inShard, "p50", "p99"));
    hops.set("to_merged", percentiles(toMerged, "p50", "p99"));
    Map<Long, List<JsonNode>> byVersion = new TreeMap<>();
    int noCommon = 0;
    for (JsonNode a : answers) {
      long v = a.path("model_version").asLong();
      if (v < 0) {
        noCommon++;
      } else {
        byVersion.computeIfAbsent(v, x -> new ArrayList<>()).add(a);
      }
    }
    s.put("queries", answers.size() - noCommon);
    s.put("no_common_version", noCommon);
    s.put("answers_per_version", byVersion.size());
    if (!rc.generated()) { // from Kafka: the job cannot re-read the catalog and queries
      s.putNull("mixed_version_answers");
      s.put("unchecked_answers", answers.size() - noCommon);
      s.put("recall_sample", 0);
      s.putNull("recall_at_10_vs_exact");
      return s;
    }
    // Re-embed the catalog with each answered version's published model; check every answer, re-rank a sample.
    GeneratedRecords[] g = RetrievalStage.generators(c);
    int n = (int) s.path("catalog_items").asLong();
    float[][] raw = new float[n][];
    long[] labels = new long[n];
    for (int i = 0; i < n; i++) {
      LabeledVector v = g[0].map((long) i);
      raw[i] = v.features;
      labels[i] = v.label == null ? -1 : v.label;
    }
    int mixed = 0;
    int unchecked = 0;
    int sampled = 0;
    double recallSum = 0;
    // Recall is measured on answers given once the whole catalog was in the index (the source has no deletes: all
    // catalog records applied = every item present); earlier answers rank the items present then.
    int eligible = 0;
    for (JsonNode a : answers) {
      eligible += a.path("model_version").asLong() >= 0 && a.path("catalog_ops").asLong() == n ? 1 : 0;
    }
    int sampleEvery = Math.max(1, eligible / Math.max(1, rc.recallSample));
    int seen = 0;
    ObjectNode p1 = s.putObject("precision_at_1");
    for (Map.Entry<Long, List<JsonNode>> e : byVersion.entrySet()) {
      Path model = dir.resolve(StreamingJob.MODELS).resolve(org.pml4j.onnx.ModelPublisher.fileName(e.getKey()));
      if (!Files.exists(model) || n == 0) {
        unchecked += e.getValue().size();
        continue;
      }
      int hits = 0;
      try (OnnxEncoder enc = OnnxEncoder.load(model)) {
        float[][] emb = unit(enc.embed(raw));
        for (JsonNode a : e.getValue()) {
          LabeledVector qv = g[1].map(a.path("qid").asLong()); // qid = the query's index in its source
          float[] q = unit(new float[][] {enc.embed(qv.features)})[0];
          JsonNode ids = a.path("ids");
          JsonNode scores = a.path("scores");
          boolean ok = true;
          for (int i = 0; i < ids.size(); i++) {
            int id = ids.get(i).asInt();
            ok &= id >= 0 && id < n && Math.abs(dot(emb[id], q) - scores.get(i).asDouble()) < 1e-4;
          }
          if (!ok) {
            mixed++;
          }
          if (ids.size() > 0 && qv.label != null && labels[ids.get(0).asInt()] == qv.label) {
            hits++;
          }
          if (a.path("catalog_ops").asLong() == n && seen++ % sampleEvery == 0 && sampled < rc.recallSample
              && ids.size() > 0) {
            sampled++;
            recallSum += recall(emb, q, ids);
          }
        }
      }
      p1.put(Long.toString(e.getKey()), (double) hits / e.getValue().size());
    }
    s.put("mixed_version_answers", mixed);
    s.put("unchecked_answers", unchecked);
    s.put("recall_sample", sampled);
    if (sampled > 0) {
      s.put("recall_at_10_vs_exact", recallSum / sampled);
    } else {
      s.putNull("recall_at_10_vs_exact");
    }
    return s;
  }

  /**
   * {@code index_versions}, {@code refresh_ms}, {@code refresh_ms_by_version} (the slowest shard's refresh of each
   * version that every shard indexed) and {@code refresh_parts_ms} from the shards' refresh list.
   */
  private static void refresh(ObjectNode s, Object list, int shards) {
    Map<Long, long[]> slowest = new TreeMap<>();
    Map<Long, Integer> shardsServing = new TreeMap<>();
    if (list instanceof List<?> l) {
      for (Object o : l) {
        String[] p = o.toString().split(":");
        long v = Long.parseLong(p[0]);
        long[] parts = new long[p.length - 1];
        for (int i = 1; i < p.length; i++) {
          parts[i - 1] = Long.parseLong(p[i]);
        }
        slowest.merge(v, parts, (a, b) -> a[0] >= b[0] ? a : b);
        shardsServing.merge(v, 1, Integer::sum);
      }
    }
    List<Long> full = new ArrayList<>();
    ObjectNode byVersion = s.putObject("refresh_ms_by_version"); // quality.png's refresh timeline
    String[] names = {"arrive", "load", "wait", "build", "build_cpu"};
    List<List<Long>> parts = new ArrayList<>();
    for (int i = 0; i < names.length; i++) {
      parts.add(new ArrayList<>());
    }
    slowest.forEach((v, p) -> {
      if (shardsServing.get(v) >= shards) {
        full.add(p[0]);
        byVersion.put(Long.toString(v), p[0]);
        for (int i = 0; i < names.length && i + 1 < p.length; i++) {
          parts.get(i).add(p[i + 1]);
        }
      }
    });
    s.put("index_versions", full.size());
    s.set("refresh_ms", percentiles(full, "p50", "max"));
    ObjectNode pn = s.putObject("refresh_parts_ms");
    for (int i = 0; i < names.length; i++) {
      pn.set(names[i], percentiles(parts.get(i), "p50").get("p50"));
    }
  }

  /** The values of a Flink histogram accumulator ({@code value -> count}), each repeated count times. */
  private static List<Long> histogram(Object hist) {
    List<Long> out = new ArrayList<>();
    if (hist instanceof Map<?, ?> h) {
      for (Map.Entry<?, ?> e : h.entrySet()) {
        for (int i = 0; i < ((Number) e.getValue()).intValue(); i++) {
          out.add(((Number) e.getKey()).longValue());
        }
      }
    }
    return out;
  }

  private static float[][] unit(float[][] x) {
    for (float[] r : x) {
      double n = 0;
      for (float v : r) {
        n += (double) v * v;
      }
      float inv = n > 0 ? (float) (1 / Math.sqrt(n)) : 0f;
      for (int j = 0; j < r.length; j++) {
        r[j] *= inv;
      }
    }
    return x;
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int j = 0; j < a.length; j++) {
      s += (double) a[j] * b[j];
    }
    return s;
  }

  /**
   * Score gap below which an answered item counts as one of the exact top k: the shards rank float32 dot products,
   * the reference here double ones, and a float32 sum of 64 products of unit vectors is within about 4e-6 of the
   * double one, so two items whose scores differ by less can legitimately swap places at the k-th position.
   */
  static final double RECALL_SCORE_TOLERANCE = 1e-5;

  /**
   * |answer ∩ exact top-|answer|| / |answer|, the exact top-k by score (ties by id) over the whole catalog; an
   * answered item whose exact score is within {@link #RECALL_SCORE_TOLERANCE} of the k-th exact score also counts (a
   * near tie at the boundary, decided by float32 rounding).
   */
  private static double recall(float[][] emb, float[] q, JsonNode ids) {
    int k = ids.size();
    double[] s = new double[emb.length];
    Integer[] order = new Integer[emb.length];
    for (int i = 0; i < emb.length; i++) {
      s[i] = dot(emb[i], q);
      order[i] = i;
    }
    java.util.Arrays.sort(order, (x, y) -> s[x] != s[y] ? Double.compare(s[y], s[x]) : Integer.compare(x, y));
    java.util.Set<Integer> exact = new java.util.HashSet<>();
    for (int i = 0; i < k; i++) {
      exact.add(order[i]);
    }
    double kth = s[order[k - 1]];
    int found = 0;
    for (int i = 0; i < k; i++) {
      int id = ids.get(i).asInt();
      found += exact.contains(id) || (id >= 0 && id < emb.length && s[id] >= kth - RECALL_SCORE_TOLERANCE) ? 1 : 0;
    }
    return (double) found / k;
  }
}
