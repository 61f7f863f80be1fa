package org.pml4j.flink;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.datastream.BroadcastStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * The retrieval topology: validation of catalog and queries, N {@link RetrievalShard}s (catalog keyed by id, so
 * each item is keyed state of one shard; models and queries broadcast), and the {@link AnswerMerger} keyed by qid. The
 * query and model paths (validation, broadcast, shard answers, merged answers) flush every record (buffer timeout 0)
 * for low query latency and refresh time; so do the trainer's model updates ({@code StreamTopology}) and the generated
 * query source ({@link RetrievalStage}).
 *
 * @see #apply
 */
public final class Retrieval {
  private Retrieval() {}

  /**
   * Settings.
   *
   * @param dimension values per raw vector (catalog and queries)
   * @param shards index parallelism N
   * @param maxK the largest k a query may ask for
   * @param chunkSize rows per ONNX Runtime call when re-embedding
   * @param retained complete versions each shard keeps and answers for (at least 2 lets shards differ by one version)
   * @param minRefreshIntervalMs {@code retrieval.min_refresh_interval} in ms (0: index every version)
   * @param builderPriority the scheduling priority of each shard's rebuild thread ({@code retrieval.builder_priority})
   * @param previousVersionGraceMs how long after a swap queries are still answered in the replaced version
   *     ({@link VersionedIndex#previousVersionGrace}: -1 while retained, 0 automatic)
   */
  public record Settings(int dimension, int shards, int maxK, int chunkSize, int retained,
      long minRefreshIntervalMs, BackgroundPriority builderPriority, long previousVersionGraceMs) {
    public Settings {
      if (builderPriority == null) {
        throw new IllegalArgumentException("retrieval settings: builder_priority is null");
      }
      if (dimension < 1 || shards < 1 || maxK < 1 || chunkSize < 1 || retained < 1 || minRefreshIntervalMs < 0
          || previousVersionGraceMs < -1) {
        throw new IllegalArgumentException("retrieval settings: dimension, shards, max_k, chunk_size, retained must be "
            + ">= 1, min_refresh_interval >= 0 and previous_version_grace >= -1, got " + dimension + ", " + shards
            + ", " + maxK + ", " + chunkSize + ", " + retained + ", " + minRefreshIntervalMs + ", "
            + previousVersionGraceMs);
      }
    }

    /**
     * Defaults: max_k 100, chunks of 1024 rows, 2 retained versions, no rate limit, builder at normal priority,
     * answers in every retained version.
     */
    public static Settings of(int dimension, int shards) {
      return new Settings(dimension, shards, 100, 1024, 2, 0, BackgroundPriority.NORMAL, -1);
    }
  }

  /** The outputs: answers, answers without a common version, rejected catalog records and queries. */
  public record Outputs(DataStream<Answer> answers, DataStream<Answer> noCommonVersion,
      DataStream<RejectedRecord> rejected) {}

  /** Builds the topology (uids "pml4j-retrieval-validate-catalog", "-validate-queries", "-shard", "-merge"). */
  public static Outputs apply(DataStream<CatalogRecord> catalog, DataStream<Query> queries,
      DataStream<ModelUpdate> models, Settings s) {
    return apply(catalog, queries, models, s, null);
  }

  /**
   * {@link #apply(DataStream, DataStream, DataStream, Settings)} whose shards also write {@link ServingMarks} when
   * they first serve a version ({@code marks} null: none).
   */
  static Outputs apply(DataStream<CatalogRecord> catalog, DataStream<Query> queries,
      DataStream<ModelUpdate> models, Settings s, ServingMarks marks) {
    SingleOutputStreamOperator<CatalogRecord> goodCatalog = catalog
        .process(new RetrievalValidation.Catalog(s.dimension()), TypeInformation.of(CatalogRecord.class))
        .name("pml4j-retrieval-validate-catalog").uid("pml4j-retrieval-validate-catalog");
    SingleOutputStreamOperator<Query> goodQueries = queries
        .process(new RetrievalValidation.Queries(s.dimension(), s.maxK()), TypeInformation.of(Query.class))
        .name("pml4j-retrieval-validate-queries").uid("pml4j-retrieval-validate-queries")
        .setBufferTimeout(0);
    DataStream<ShardInput> control = models.map(new ModelInput(), TypeInformation.of(ShardInput.class))
        .name("pml4j-retrieval-models").uid("pml4j-retrieval-models").setBufferTimeout(0)
        .union(goodQueries.map(new QueryInput(), TypeInformation.of(ShardInput.class))
            .name("pml4j-retrieval-queries").uid("pml4j-retrieval-queries").setBufferTimeout(0));
    BroadcastStream<ShardInput> b = control.broadcast(RetrievalShard.MODELS);
    DataStream<ShardAnswer> parts = goodCatalog
        .keyBy(new CatalogId(), Types.LONG)
        .connect(b)
        .process(new RetrievalShard(s.chunkSize(), s.retained(), s.minRefreshIntervalMs(), s.builderPriority(),
            s.previousVersionGraceMs(), marks),
            TypeInformation.of(ShardAnswer.class))
        .name("pml4j-retrieval-shard").uid("pml4j-retrieval-shard").setParallelism(s.shards())
        .setBufferTimeout(0); // answers leave at once (query latency), not every 100 ms
    SingleOutputStreamOperator<Answer> answers = parts.keyBy(new Qid(), Types.LONG)
        .process(new AnswerMerger(), TypeInformation.of(Answer.class))
        .name("pml4j-retrieval-merge").uid("pml4j-retrieval-merge")
        .setBufferTimeout(0); // answers reach the sinks (files, Kafka) at once
    DataStream<RejectedRecord> rejected = goodCatalog.getSideOutput(ValidateFunction.REJECTED)
        .union(goodQueries.getSideOutput(ValidateFunction.REJECTED));
    return new Outputs(answers, answers.getSideOutput(AnswerMerger.NO_COMMON_VERSION), rejected);
  }

  static final class CatalogId implements KeySelector<CatalogRecord, Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public Long getKey(CatalogRecord r) {
      return r.id;
    }
  }

  static final class Qid implements KeySelector<ShardAnswer, Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public Long getKey(ShardAnswer a) {
      return a.qid;
    }
  }

  static final class ModelInput implements MapFunction<ModelUpdate, ShardInput> {
    private static final long serialVersionUID = 1L;

    @Override
    public ShardInput map(ModelUpdate m) {
      return ShardInput.of(m);
    }
  }

  static final class QueryInput implements MapFunction<Query, ShardInput> {
    private static final long serialVersionUID = 1L;

    @Override
    public ShardInput map(Query q) {
      return ShardInput.of(q);
    }
  }
}
