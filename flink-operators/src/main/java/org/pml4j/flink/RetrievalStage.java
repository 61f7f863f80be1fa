package org.pml4j.flink;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.state.rocksdb.RocksDBConfigurableOptions;
import org.apache.flink.state.rocksdb.RocksDBOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;

/**
 * The retrieval part of {@link StreamingJob} (key {@code retrieval}, off by default): a catalog stream and a paced
 * query stream from the job's dataset, the {@link Retrieval} topology fed by the trainer's model versions, answers
 * into {@value #ANSWERS}, and the {@code "retrieval"} object of summary.json ({@link #summarize}).
 *
 * <p>Sources: {@code retrieval.catalog_topic} and {@code retrieval.query_topic} read the catalog and the queries
 * from Kafka ({@link RetrievalKafka}; broker, consumer group and boundedness from {@code kafka.*}), whatever the
 * training dataset. Without a topic they come from the dataset: Fashion-MNIST's training split is the catalog (ids =
 * row numbers, file order) and t10k the queries (qid = row number), paced at {@code retrieval.queries_per_second} from
 * the moment every shard serves a version ({@link ServingMarks}, {@code retrieval.ready_timeout}); synthetic: catalog
 * ids 0.., queries from ids {@value #SYNTHETIC_QUERY_OFFSET}. {@code retrieval.answers_topic} also sends every answer
 * to Kafka (keyed by qid).
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
    /**
     * {@code retrieval.previous_version_grace} in seconds: how long after a shard swaps a new version in it still
     * answers in the replaced one, so that the merger finds a version common to all shards while the others finish
     * the same build: -1 (the default) as long as the version is retained (safe whatever the shards' lag, but every
     * query costs a scan per retained version); 0 automatic (the new version's build time on that shard, at least
     * 1 s); a shard that lags more than that behind another gives answers without a common version.
     */
    public double previousVersionGrace = -1;
    /**
     * {@code retrieval.ready_timeout} in seconds: the generated query stream starts its pacing once every shard serves
     * a version ({@link ServingMarks}, a readiness probe), or after this long (then it starts anyway and logs a
     * warning); 0: at once, the queries of the start-up wait at the shards. Kafka queries are never held back.
     */
    public double readyTimeout = 120;
    /**
     * {@code retrieval.ready_for_catalog}: with a generated catalog at full speed ({@code catalog_records_per_second}
     * 0), the readiness gate also waits until the shards have applied all of it (the initial load, whose ingestion
     * keeps the shards busy); false, a paced or a Kafka catalog: serving suffices.
     */
    public boolean readyForCatalog = true;
    /**
     * {@code retrieval.trainer_priority}: the trainer's task thread's scheduling priority while retrieval is on (low,
     * the default: nice 19, so the shards' query answers, the model updates' way to them and the rebuilds come first
     * on a TaskManager whose cores the trainer would otherwise fill; normal or idle).
     */
    public String trainerPriority = "low";
    /** The rebuild threads' scheduling priority: normal, low or idle ({@link BackgroundPriority}). */
    public String builderPriority = "normal";
    /**
     * Keep the raw items in RocksDB with incremental checkpoints (a checkpoint writes only the items changed since the
     * last one), unless the cluster's configuration names a state backend; false: the cluster's (default: heap, every
     * checkpoint writes every item).
     */
    public boolean incrementalCheckpoints = true;
    /**
     * With {@link #incrementalCheckpoints}: RocksDB's memtable size ({@code state.backend.rocksdb.writebuffer.size},
     * with RocksDB's memory not taken from Flink's managed memory, so that the size applies). Small memtables are
     * flushed in the background while the catalog streams in; a checkpoint flushes what is left in them on the shard's
     * task thread, which then answers no query. With Flink's default (64 MB, or a share of managed memory) the first
     * checkpoints after loading the catalog held queries for up to a second; empty: Flink's default.
     */
    public String rocksdbWriteBuffer = "4mb";
    /**
     * Unaligned checkpoints ({@code execution.checkpointing.unaligned.enabled}) unless the cluster's configuration
     * sets them, for the job's keyed exchanges (barriers overtake queued records, which go into the checkpoint).
     * They do not reach the shards: Flink takes no unaligned checkpoint over a broadcast edge and then aligns every
     * input of the operator that has one, so at each checkpoint a shard holds its queries until the barrier has also
     * come through the trainer (measured: alignments of 0.1-1.7 s at the shards with this on). What bounds those
     * stalls is the longer checkpoint interval of a job with retrieval ({@link StreamJobConfig#checkpointIntervalMs}).
     * false: Flink's aligned checkpoints everywhere.
     */
    public boolean unalignedCheckpoints = true;
    /** Kafka topic of catalog records (JSON, {@link RetrievalKafka}); null: the dataset's catalog. */
    public String catalogTopic;
    /** Kafka topic of queries (JSON, {@link RetrievalKafka}); null: the dataset's queries. */
    public String queryTopic;
    /** Kafka topic the answers also go to (the JSON of {@value #ANSWERS}, keyed by qid); null: none. */
    public String answersTopic;

    /**
     * {@link #rocksdbWriteBuffer} parsed, or null when empty.
     *
     * @throws IllegalArgumentException when it is not a memory size
     */
    MemorySize rocksdbWriteBufferSize() {
      if (blank(rocksdbWriteBuffer)) {
        return null;
      }
      try {
        return MemorySize.parse(rocksdbWriteBuffer);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("retrieval.rocksdb_write_buffer must be a memory size such as 4mb, got '"
            + rocksdbWriteBuffer + "'", e);
      }
    }

    /** Whether the job generates both the catalog and the queries (then summary.json re-checks the answers). */
    boolean generated() {
      return blank(catalogTopic) && blank(queryTopic);
    }

    /** {@code retrieval.trainer_priority} parsed. */
    BackgroundPriority trainerPriority() {
      try {
        return BackgroundPriority.parse(trainerPriority);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("retrieval.trainer_priority must be one of idle, low, normal; got "
            + trainerPriority, e);
      }
    }

    /** {@code retrieval.ready_timeout} in ms (0: no readiness gate). */
    long readyTimeoutMillis() {
      if (!(readyTimeout >= 0)) {
        throw new IllegalArgumentException("retrieval.ready_timeout must be >= 0 seconds, got " + readyTimeout);
      }
      return readyTimeout == 0 ? 0 : Math.max(1, Math.round(readyTimeout * 1000));
    }

    Retrieval.Settings settings(int dim) {
      BackgroundPriority priority;
      try {
        priority = BackgroundPriority.parse(builderPriority);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("retrieval.builder_priority must be one of idle, low, normal; got "
            + builderPriority, e);
      }
      return new Retrieval.Settings(dim, shards, maxK, chunkSize, retained, Math.round(minRefreshInterval * 1000),
          priority, previousVersionGrace == -1 ? -1 : Math.round(previousVersionGrace * 1000));
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
    MemorySize writeBuffer = rc.rocksdbWriteBufferSize();
    if (rc.unalignedCheckpoints
        && env.getConfiguration().getOptional(CheckpointingOptions.ENABLE_UNALIGNED).isEmpty()) {
      Configuration unaligned = new Configuration();
      unaligned.set(CheckpointingOptions.ENABLE_UNALIGNED, true);
      env.configure(unaligned);
    }
    if (rc.incrementalCheckpoints && env.getConfiguration().getOptional(StateBackendOptions.STATE_BACKEND).isEmpty()) {
      Configuration backend = new Configuration();
      backend.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
      backend.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
      if (writeBuffer != null) {
        backend.set(RocksDBConfigurableOptions.WRITE_BUFFER_SIZE, writeBuffer);
        backend.set(RocksDBOptions.USE_MANAGED_MEMORY, false);
      }
      env.configure(backend);
    }
    String dir = OutputFileSystem.uri(c.outputDir);
    boolean kafka = !blank(rc.catalogTopic) || !blank(rc.queryTopic) || !blank(rc.answersTopic);
    if (kafka && blank(c.kafka.bootstrapServers)) {
      throw new IllegalArgumentException("retrieval.catalog_topic, query_topic and answers_topic need "
          + "kafka.bootstrap_servers");
    }
    GeneratedRecords[] g = blank(rc.catalogTopic) || blank(rc.queryTopic) ? generators(c) : null;
    DataStream<CatalogRecord> catalog;
    long initialCatalog = 0; // catalog records the readiness gate waits for
    if (blank(rc.catalogTopic)) {
      long catalogN = rc.catalogRecords > 0 ? rc.catalogRecords
          : c.dataset.equals("synthetic") ? 20_000 : g[0].rowsPerEpoch();
      initialCatalog = rc.readyForCatalog && rc.catalogRecordsPerSecond <= 0 ? catalogN : 0;
      catalog = env.fromSource(Sources.generated(g[0], catalogN, rc.catalogRecordsPerSecond),
          WatermarkStrategy.noWatermarks(), "retrieval-catalog-source").uid("retrieval-catalog-source")
          .setParallelism(1).map(new ToCatalog(), TypeInformation.of(CatalogRecord.class)).name("to-catalog")
          .uid("to-catalog");
    } else {
      catalog = env.fromSource(RetrievalKafka.catalog(c.kafka, rc.catalogTopic), WatermarkStrategy.noWatermarks(),
          "retrieval-catalog-kafka").uid("retrieval-catalog-kafka");
    }
    DataStream<Query> queries;
    ServingMarks marks = null;
    if (blank(rc.queryTopic)) {
      long queryN = c.dataset.equals("synthetic") ? rc.queries : Math.min(rc.queries, g[1].rowsPerEpoch());
      long offset = c.dataset.equals("synthetic") ? SYNTHETIC_QUERY_OFFSET : 0;
      DataGeneratorSource<LabeledVector> source;
      long readyTimeoutMs = rc.readyTimeoutMillis();
      if (readyTimeoutMs > 0) {
        marks = ServingMarks.fresh(dir, rc.shards, initialCatalog);
        source = Sources.generated(g[1], queryN, marks.pacing(rc.queriesPerSecond, readyTimeoutMs));
      } else {
        source = Sources.generated(g[1], queryN, rc.queriesPerSecond);
      }
      // Source and to-query at parallelism 1 chain (no buffer between them); their output is flushed per record.
      queries = env.fromSource(source, WatermarkStrategy.noWatermarks(), "retrieval-query-source")
          .uid("retrieval-query-source").setParallelism(1).setBufferTimeout(0)
          .map(new ToQuery(rc.k, offset), TypeInformation.of(Query.class)).name("to-query")
          .uid("to-query").setParallelism(1).setBufferTimeout(0);
    } else {
      queries = env.fromSource(RetrievalKafka.queries(c.kafka, rc.queryTopic, rc.k), WatermarkStrategy.noWatermarks(),
          "retrieval-query-kafka").uid("retrieval-query-kafka");
    }
    Retrieval.Outputs o = Retrieval.apply(catalog, queries, models, rc.settings(dim), marks);
    o.answers().union(o.noCommonVersion()).map(Answer::toJson).returns(Types.STRING).name("answer-json")
        .uid("answer-json").setParallelism(1).sinkTo(new TextLinesSink(OutputFileSystem.child(dir, ANSWERS)))
        .name("answers").uid("answers").setParallelism(1);
    if (!blank(rc.answersTopic)) {
      o.answers().union(o.noCommonVersion()).map(Answer::toJson).returns(Types.STRING).name("answer-json-kafka")
          .uid("answer-json-kafka").setParallelism(1)
          .sinkTo(ReportLines.kafkaSink(c.kafka.bootstrapServers, rc.answersTopic, "qid"))
          .name("answers-kafka").uid("answers-kafka").setParallelism(1);
    }
    o.rejected().map(r -> "{\"id\":" + r.record.id + ",\"reason\":\"" + r.reason + "\",\"detail\":\""
        + r.detail.replace("\"", "'") + "\"}").returns(Types.STRING).name("retrieval-rejected-json")
        .uid("retrieval-rejected-json").setParallelism(1)
        .sinkTo(new TextLinesSink(OutputFileSystem.child(dir, REJECTED)))
        .name("retrieval-rejected").uid("retrieval-rejected").setParallelism(1);
  }

  static boolean blank(String s) {
    return s == null || s.isBlank();
  }

  /** The {@code "retrieval"} object of summary.json ({@link RetrievalSummary#summarize}). */
  public static ObjectNode summarize(Path dir, StreamJobConfig c, JobExecutionResult r) throws IOException {
    return RetrievalSummary.summarize(dir, c, r);
  }
}
