package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;
import org.pml4j.onnx.OnnxEncoder;

/**
 * The retrieval part of {@link StreamingJob} (key {@code retrieval}, off by default): a catalog stream and a paced
 * query stream from the job's dataset, the {@link Retrieval} topology fed by the trainer's model versions, answers
 * into {@value #ANSWERS}, and the {@code "retrieval"} object of summary.json ({@link #summarize}).
 *
 * <p>Fashion-MNIST: the catalog is the training split (ids = row numbers, file order), the queries the t10k split
 * (qid = row number). Synthetic: catalog ids 0.., queries from ids {@value #SYNTHETIC_QUERY_OFFSET}. Other datasets
 * (csv, jsonl, kafka) are not wired yet: use {@link Retrieval#apply} with your own sources.
 */
public final class RetrievalStage {
  /** Answers, one JSON line each ({@link Answer#toJson}). */
  public static final String ANSWERS = "retrieval-answers.jsonl";
  /** Rejected catalog records and queries. */
  public static final String REJECTED = "retrieval-rejected.jsonl";
  static final long SYNTHETIC_QUERY_OFFSET = 3_000_000;

  private RetrievalStage() {}

  /** The {@code retrieval} keys of the job config (snake_case in JSON). */
  public static class Config {
    /** Build the retrieval index ({@code --set retrieval.enabled=true}). */
    public boolean enabled;
    /** Catalog items (0: the whole training split; synthetic: 20,000). */
    public long catalogRecords;
    /** Catalog records per second (0: unlimited). */
    public double catalogRecordsPerSecond;
    /** Queries (Fashion-MNIST: at most 10,000, the t10k split). */
    public long queries = 10_000;
    /** Queries per second (paced over the run). */
    public double queriesPerSecond = 100;
    /** k of every query. */
    public int k = 10;
    /** Largest k accepted. */
    public int maxK = 100;
    /** Index parallelism. */
    public int shards = 2;
    /** Rows per ONNX Runtime call when re-embedding. */
    public int chunkSize = 1024;
    /** Complete versions each shard keeps. */
    public int retained = 2;
    /** {@code retrieval.min_refresh_interval} in seconds: least time between the creation of indexed versions. */
    public double minRefreshInterval;
    /** Answers re-ranked by brute force for {@code recall_at_10_vs_exact} (0: none). */
    public int recallSample = 300;

    Retrieval.Settings settings(int dim) {
      return new Retrieval.Settings(dim, shards, maxK, chunkSize, retained, Math.round(minRefreshInterval * 1000));
    }
  }

  static final class ToCatalog implements MapFunction<LabeledVector, CatalogRecord> {
    private static final long serialVersionUID = 1L;

    @Override
    public CatalogRecord map(LabeledVector v) {
      return CatalogRecord.upsert(v.id, v.features, v.label);
    }
  }

  static final class ToQuery implements MapFunction<LabeledVector, Query> {
    private static final long serialVersionUID = 1L;
    private final int k;
    private final long offset;

    ToQuery(int k, long offset) {
      this.k = k;
      this.offset = offset;
    }

    @Override
    public Query map(LabeledVector v) {
      return new Query(v.id - offset, v.features, k);
    }
  }

  /** The catalog's and queries' generators for the job's dataset. */
  static GeneratedRecords[] generators(StreamJobConfig c) {
    return switch (c.dataset) {
      case "fashion-mnist" -> new GeneratedRecords[] {
          GeneratedRecords.fashionMnist(Path.of(c.dataDir), FashionMnist.Split.TRAIN, false, 0, 0),
          GeneratedRecords.fashionMnist(Path.of(c.dataDir), FashionMnist.Split.TEST, false, 0, 0)};
      case "synthetic" -> {
        StreamJobConfig.Synthetic s = c.synthetic;
        GeneratedRecords g = GeneratedRecords.synthetic(
            new SyntheticClusters(s.classes, s.dimension, s.noise, s.centerScale, s.seed), 0, 0);
        yield new GeneratedRecords[] {g, g.withIdOffset(SYNTHETIC_QUERY_OFFSET)};
      }
      default -> throw new IllegalArgumentException("retrieval.enabled needs dataset fashion-mnist or synthetic, got "
          + c.dataset);
    };
  }

  /** Adds catalog and query sources, the index and the answer sinks to the job. */
  public static void attach(StreamExecutionEnvironment env, StreamJobConfig c, DataStream<ModelUpdate> models,
      int dim) {
    Config rc = c.retrieval;
    Path dir = Path.of(c.outputDir).toAbsolutePath();
    GeneratedRecords[] g = generators(c);
    long catalogN = rc.catalogRecords > 0 ? rc.catalogRecords
        : c.dataset.equals("synthetic") ? 20_000 : g[0].rowsPerEpoch();
    long queryN = c.dataset.equals("synthetic") ? rc.queries : Math.min(rc.queries, g[1].rowsPerEpoch());
    DataStream<CatalogRecord> catalog = env.fromSource(Sources.generated(g[0], catalogN,
        rc.catalogRecordsPerSecond), WatermarkStrategy.noWatermarks(), "retrieval-catalog-source")
        .uid("retrieval-catalog-source").setParallelism(1)
        .map(new ToCatalog(), TypeInformation.of(CatalogRecord.class)).name("to-catalog").uid("to-catalog");
    long offset = c.dataset.equals("synthetic") ? SYNTHETIC_QUERY_OFFSET : 0;
    DataStream<Query> queries = env.fromSource(Sources.generated(g[1], queryN, rc.queriesPerSecond),
        WatermarkStrategy.noWatermarks(), "retrieval-query-source").uid("retrieval-query-source").setParallelism(1)
        .map(new ToQuery(rc.k, offset), TypeInformation.of(Query.class)).name("to-query").uid("to-query");
    Retrieval.Outputs o = Retrieval.apply(catalog, queries, models, rc.settings(dim));
    o.answers().union(o.noCommonVersion()).map(Answer::toJson).returns(Types.STRING).name("answer-json")
        .uid("answer-json").setParallelism(1).sinkTo(new TextLinesSink(dir.resolve(ANSWERS))).name("answers")
        .uid("answers").setParallelism(1);
    o.rejected().map(r -> "{\"id\":" + r.record.id + ",\"reason\":\"" + r.reason + "\",\"detail\":\""
        + r.detail.replace("\"", "'") + "\"}").returns(Types.STRING).name("retrieval-rejected-json")
        .uid("retrieval-rejected-json").setParallelism(1).sinkTo(new TextLinesSink(dir.resolve(REJECTED)))
        .name("retrieval-rejected").uid("retrieval-rejected").setParallelism(1);
  }

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
   * The {@code "retrieval"} object of summary.json: {@code catalog_items}, {@code index_versions} (versions every
   * shard served), {@code refresh_ms} {p50, max} (per version: creation in the trainer to the last shard serving it),
   * {@code query_latency_ms} {p50, p99, max} (all queries), {@code query_latency_serving_ms} (queries that did not
   * wait for a shard's first index version, i.e. the job's start-up or a restore) and
   * {@code queries_waited_for_first_index}, {@code queries} (answered), {@code no_common_version},
   * {@code mixed_version_answers} (answers whose scores are not those of the query and the returned items all
   * embedded by the answer's version's published ONNX model; answers whose model file is gone are counted in
   * {@code unchecked_answers}), {@code recall_at_10_vs_exact} (a sample of the answers given once the whole catalog
   * was indexed, re-ranked by brute force over the catalog with that version's ONNX model) and {@code precision_at_1} per version.
   */
  public static ObjectNode summarize(Path dir, StreamJobConfig c, JobExecutionResult r) throws IOException {
    Config rc = c.retrieval;
    ObjectNode s = StreamJobConfig.JSON.createObjectNode();
    Object items = r.getAccumulatorResult(RetrievalShard.ITEMS_ACCUMULATOR);
    s.put("catalog_items", items == null ? 0 : ((Number) items).longValue());
    Map<Long, Long> refresh = new TreeMap<>();
    Map<Long, Integer> shardsServing = new HashMap<>();
    Object list = r.getAccumulatorResult(RetrievalShard.REFRESHES_ACCUMULATOR);
    if (list instanceof List<?> l) {
      for (Object o : l) {
        String[] p = o.toString().split(":");
        long v = Long.parseLong(p[0]);
        refresh.merge(v, Long.parseLong(p[1]), Math::max);
        shardsServing.merge(v, 1, Integer::sum);
      }
    }
    List<Long> full = new ArrayList<>();
    refresh.forEach((v, ms) -> {
      if (shardsServing.get(v) >= rc.shards) {
        full.add(ms);
      }
    });
    s.put("index_versions", full.size());
    s.set("refresh_ms", percentiles(full, "p50", "max"));
    List<Long> lat = new ArrayList<>();
    Object hist = r.getAccumulatorResult(AnswerMerger.LATENCY_ACCUMULATOR);
    if (hist instanceof Map<?, ?> h) {
      for (Map.Entry<?, ?> e : h.entrySet()) {
        for (int i = 0; i < ((Number) e.getValue()).intValue(); i++) {
          lat.add(((Number) e.getKey()).longValue());
        }
      }
    }
    s.set("query_latency_ms", percentiles(lat, "p50", "p99", "max"));
    List<Long> serving = new ArrayList<>();
    Object hs = r.getAccumulatorResult(AnswerMerger.SERVING_LATENCY_ACCUMULATOR);
    if (hs instanceof Map<?, ?> h) {
      for (Map.Entry<?, ?> e : h.entrySet()) {
        for (int i = 0; i < ((Number) e.getValue()).intValue(); i++) {
          serving.add(((Number) e.getKey()).longValue());
        }
      }
    }
    s.set("query_latency_serving_ms", percentiles(serving, "p50", "p99", "max"));
    s.put("queries_waited_for_first_index", lat.size() - serving.size());

    List<JsonNode> answers = new ArrayList<>();
    Path file = dir.resolve(ANSWERS);
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file)) {
        if (!line.isBlank()) {
          answers.add(StreamJobConfig.JSON.readTree(line));
        }
      }
    }
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
    // Re-embed the catalog with each answered version's published model; check every answer, re-rank a sample.
    GeneratedRecords[] g = generators(c);
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

  /** |answer ∩ exact top-|answer|| / |answer|, the exact top-k by score (ties by id) over the whole catalog. */
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
    int found = 0;
    for (int i = 0; i < k; i++) {
      found += exact.contains(ids.get(i).asInt()) ? 1 : 0;
    }
    return (double) found / k;
  }
}
