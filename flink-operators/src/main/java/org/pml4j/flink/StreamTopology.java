package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.pml4j.train.TrainerConfig;

/**
 * The stream job's dataflow (see the diagram in {@link StreamingJob}): sources ({@link StreamInputs}), validation,
 * the trainer, the model publisher, the embed operator, the evaluator, the optional retrieval stage and the report
 * sinks ({@link ReportLines} into files under {@code output_dir}, optionally Kafka topics). Every operator has a
 * fixed uid, so savepoints stay restorable across versions of this class.
 */
public final class StreamTopology {
  private StreamTopology() {}

  /** Adds the whole topology to {@code env}. */
  public static void build(StreamExecutionEnvironment env, StreamJobConfig c, TrainerFactory factory) {
    String dir = OutputFileSystem.uri(c.outputDir);
    int dim = StreamInputs.dimension(c);
    StreamInputs in = StreamInputs.add(env, c);
    SingleOutputStreamOperator<LabeledVector> validTrain = in.train()
        .process(new ValidateFunction(dim, true, c.maxAbsFeature))
        .name("validate-train").uid("validate-train").setParallelism(1);
    SingleOutputStreamOperator<LabeledVector> validHeldout = in.heldout()
        .process(new ValidateFunction(dim, true, c.maxAbsFeature))
        .name("validate-heldout").uid("validate-heldout").setParallelism(1);
    SingleOutputStreamOperator<ModelUpdate> models = trainer(validTrain, c, factory);
    lines(validTrain.getSideOutput(ValidateFunction.REJECTED).union(
            validHeldout.getSideOutput(ValidateFunction.REJECTED), models.getSideOutput(TrainerOperator.REJECTED))
        .map(ReportLines::rejected), "rejected-json", dir, OutputDirectory.REJECTED, "rejected");
    ModelPublisherSink.apply(models, OutputFileSystem.child(dir, OutputDirectory.MODELS), c.keepModels);
    lines(models.map(ReportLines::update), "update-json", dir, OutputDirectory.MODEL_UPDATES, "model-updates");
    if (c.kafka.modelUpdatesTopic != null && !c.kafka.modelUpdatesTopic.isBlank()) {
      models.map(ReportLines::update).returns(Types.STRING).name("update-json-kafka").uid("update-json-kafka")
          .setParallelism(1).sinkTo(ReportLines.kafkaSink(c.kafka.bootstrapServers, c.kafka.modelUpdatesTopic,
              "version")).name("model-updates-kafka").uid("model-updates-kafka").setParallelism(1);
    }
    DataStream<LabeledVector> queries = validHeldout;
    if (c.queries.equals("train")) {
      long every = c.queryEvery;
      queries = validTrain.filter(v -> Math.floorMod(v.id, every) == 0).name("queries").uid("queries")
          .setParallelism(1);
    }
    embeddings(EmbedOperator.apply(queries, models, c.embedParallelism), c, dir);
    if (c.retrieval.enabled) {
      RetrievalStage.attach(env, c, models, dim);
    }
    EvalPolicy policy = EvalPolicy.of(c.evaluate, c.evaluatorPriority, c.evaluatorCpuShare);
    if (policy.mode() != EvalPolicy.Mode.NONE) {
      lines(RetrievalEvaluator.apply(validHeldout, models, c.heldoutRecords, policy)
          .setDescription("pml4j-evaluator: precision@1 and MAP@R of model versions (" + c.evaluate + ") on "
              + c.heldoutRecords + " held-out records")
          .map(ReportLines::evaluation), "eval-json", dir, OutputDirectory.EVALUATIONS, "evaluations");
    }
  }

  /**
   * The trainer: {@link TrainerOperator} on the valid training records ({@code trainer_parallelism} replicas, {@link
   * DataParallelTrainer}; still unset (0) when {@code env} did not come from {@link JobEnvironment}: 1), with the job's
   * trainer config ({@link #trainerConfig}) and publish settings; not chained to its neighbours (the job graph vertex
   * {@code pml4j-trainer}).
   */
  static SingleOutputStreamOperator<ModelUpdate> trainer(DataStream<LabeledVector> validTrain, StreamJobConfig c,
      TrainerFactory factory) {
    TrainerConfig tc = trainerConfig(c);
    TrainerOperator.Settings settings = new TrainerOperator.Settings(c.batchSize, c.publishEverySteps,
        Math.round(c.publishEverySeconds * 1000), true, c.trainFinalPartialBatch, c.verifyExport,
        c.retrieval.enabled ? c.retrieval.trainerPriority() : BackgroundPriority.NORMAL);
    SingleOutputStreamOperator<ModelUpdate> models = DataParallelTrainer.apply(validTrain, factory, tc, settings,
        c.trainerParallelism == 0 ? 1 : c.trainerParallelism, rendezvousDir(c), c.trainerBindHost, // 0: own env
        java.time.Duration.ofMillis(Math.round(c.trainerReplicaTimeoutSeconds * 1000)), c.trainerEfficient);
    // A job graph vertex of its own, so the Web UI shows "pml4j-trainer" (chained, the vertex was "Source:
    // train-source -> validate-train -> (pml4j-trainer -> ...)") and its own busy/back-pressure figures. With
    // replicas the vertex is "pml4j-shards -> pml4j-trainer": the shards' unwrapping map stays chained to the trainer
    // (a network hop of every record less), and nothing after the trainer has its parallelism to chain with.
    if (models.getParallelism() == 1) {
      models.disableChaining();
    }
    // Model updates are rare (one per publication): flush each at once rather than after Flink's 100 ms buffer timeout,
    // so a version reaches the embed operator, the evaluator and the retrieval shards without waiting for a buffer.
    models.setBufferTimeout(0);
    models.setDescription("pml4j-trainer: online metric learning (" + describe(tc) + "), batches of " + c.batchSize
        + ", a model version every " + c.publishEverySteps + " steps");
    return models;
  }

  /**
   * Where the trainer's replicas meet ({@link FileRendezvous}): {@code DIR/rendezvous}. Rank 0 writes its store's
   * address there, so with parallelism above 1 the output directory must be a local path or a mount that every
   * TaskManager shares (a POSIX directory, not an object store).
   */
  static java.nio.file.Path rendezvousDir(StreamJobConfig c) {
    if (c.trainerParallelism > 1 && !OutputFileSystem.isLocal(c.outputDir)) {
      throw new IllegalArgumentException("trainer_parallelism " + c.trainerParallelism + " needs output_dir on a "
          + "local or shared POSIX path (the replicas meet through DIR/rendezvous), got " + c.outputDir);
    }
    return java.nio.file.Path.of(java.net.URI.create(OutputFileSystem.child(c.outputDir, "rendezvous")));
  }

  /** The embeddings: to embeddings.jsonl ({@code write_embeddings}) or discarded, and to a Kafka topic if set. */
  private static void embeddings(SingleOutputStreamOperator<Embedding> embeddings, StreamJobConfig c, String dir) {
    if (c.writeEmbeddings) {
      lines(embeddings.map(ReportLines::embedding), "embedding-json", dir, OutputDirectory.EMBEDDINGS, "embeddings");
    } else {
      embeddings.sinkTo(new DiscardingSink<>()).name("embeddings").uid("embeddings")
          .setParallelism(c.embedParallelism);
    }
    if (c.kafka.embeddingsTopic != null && !c.kafka.embeddingsTopic.isBlank()) {
      embeddings.map(ReportLines::embedding).returns(Types.STRING).name("embedding-json-kafka")
          .uid("embedding-json-kafka").setParallelism(c.embedParallelism)
          .sinkTo(ReportLines.kafkaSink(c.kafka.bootstrapServers, c.kafka.embeddingsTopic, "id"))
          .name("embeddings-kafka").uid("embeddings-kafka").setParallelism(c.embedParallelism);
    }
  }

  /** JSON lines (the map {@code mapName}) appended to {@code dir/file} by the sink {@code sinkName}, parallelism 1. */
  private static void lines(SingleOutputStreamOperator<String> json, String mapName, String dir, String file,
      String sinkName) {
    json.returns(Types.STRING).name(mapName).uid(mapName).setParallelism(1)
        .sinkTo(new TextLinesSink(OutputFileSystem.child(dir, file))).name(sinkName).uid(sinkName).setParallelism(1);
  }

  /**
   * The trainer config: the configured one, or the dataset's default ({@link #defaultTrainer}), with the job keys
   * {@code trainer_threads} and {@code device} over its {@code threads} and {@code device}.
   *
   * @throws IllegalArgumentException for a bad trainer config, or a CUDA {@code device} that LibTorch does not see here
   */
  public static TrainerConfig trainerConfig(StreamJobConfig c) {
    if (c.trainerThreads < 0) {
      throw new IllegalArgumentException("trainer_threads must be >= 1 (or 0: the trainer config's threads), got "
          + c.trainerThreads);
    }
    TrainerConfig tc = TrainerConfigs.fromTree(c.trainer != null ? c.trainer
        : defaultTrainer(c.dataset, StreamInputs.dimension(c)));
    tc = c.trainerThreads == 0 ? tc : new TrainerConfig(tc.encoder(), tc.loss(), tc.miner(), tc.optimizer(),
        tc.memorySize(), tc.seed(), c.trainerThreads, tc.device());
    if (c.device != null) {
      tc = tc.withDevice(c.device);
    }
    // A CUDA device that this process's LibTorch does not see fails now, at job construction, naming the key; the
    // task checks again where it builds the trainer.
    org.pml4j.train.Trainers.checkDevice(tc.device());
    return tc;
  }

  /**
   * The default trainer of a dataset: an MLP encoder {@code dim → hidden → ReLU → emb → L2Normalize}
   * (Fashion-MNIST: 784 → 256 → 64; otherwise dim → 64 → 16), MultiSimilarityLoss with MultiSimilarityMiner
   * (O(B²), PML's usual pairing), Adam(lr 1e-3), one thread.
   */
  public static JsonNode defaultTrainer(String dataset, int dim) {
    boolean images = dataset.equals("fashion-mnist");
    int hidden = images ? 256 : 64;
    int emb = images ? 64 : 16;
    String s = """
        {"encoder": {"class": "Sequential", "params": {"layers": [
            {"class": "Linear", "params": {"in_features": %d, "out_features": %d}},
            {"class": "ReLU"},
            {"class": "Linear", "params": {"in_features": %d, "out_features": %d}},
            {"class": "L2Normalize"}]}},
         "loss": {"class": "MultiSimilarityLoss"},
         "miner": {"class": "MultiSimilarityMiner", "params": {"epsilon": 0.1}},
         "optimizer": {"class": "Adam", "params": {"lr": 0.001}},
         "memory_size": 0, "seed": 0, "threads": 1}
        """.formatted(dim, hidden, hidden, emb);
    try {
      return StreamJobConfig.JSON.readTree(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String describe(TrainerConfig tc) {
    StringBuilder b = new StringBuilder(className(tc.loss()));
    if (tc.miner() != null) {
      b.append(" + ").append(className(tc.miner()));
    }
    return b.append(", ").append(className(tc.optimizer())).toString();
  }

  private static String className(JsonNode spec) {
    if (spec == null || spec.isNull()) {
      return "default";
    }
    return spec.isTextual() ? spec.textValue() : spec.path("class").asText("?");
  }
}
