package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.pml4j.data.DataSource;
import org.pml4j.data.DataSources;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;
import org.pml4j.train.TrainerConfig;

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
 * {@code nonfinite_step}. With {@code queries = heldout} the embed operator serves the held-out stream instead. The evaluator scores versions
 * on a background thread, which versions is {@code evaluate}: {@code latest}, {@code every} or {@code none} — see
 * {@link RetrievalEvaluator}.)
 *
 * {@link #run} starts an embedded MiniCluster with the Flink Web UI on localhost (its address is printed), submits the
 * job, waits for it, and writes {@code DIR/summary.json}:
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
 * <p><b>On a Flink cluster</b> ({@code flink run}), build the same topology with {@link #build} in a main class. Put
 * the Bytedeco (pytorch, openblas, javacpp) and ONNX Runtime jars into Flink's {@code lib/} and set {@code
 * classloader.parent-first-patterns.additional: org.bytedeco.;ai.onnxruntime.}: a second job in the same TaskManager
 * otherwise loads a second {@code libtorch_cpu.so} from its user-code class loader and aborts the process. (Or run one
 * job per TaskManager, application mode.) In the embedded MiniCluster all jobs share the application class loader,
 * so this does not arise.
 */
public final class StreamingJob {
  /** summary.json's {@code steady_samples_per_sec} leaves out the steps before the first version at this step. */
  public static final long STEADY_AFTER_STEPS = 50;

  /** Id offset of generated held-out records (disjoint from training ids). */
  public static final long HELDOUT_ID_OFFSET = 1L << 40;

  private StreamingJob() {}

  /** Output files inside the output directory. */
  public static final String MODELS = "models";
  public static final String CHECKPOINTS = "checkpoints";
  public static final String SAVEPOINTS = "savepoints";
  public static final String SUMMARY = "summary.json";
  public static final String EVALUATIONS = "evaluations.jsonl";
  public static final String MODEL_UPDATES = "model_updates.jsonl";
  public static final String REJECTED = "rejected.jsonl";
  public static final String EMBEDDINGS = "embeddings.jsonl";

  /** The feature dimension of the configured dataset. */
  public static int dimension(StreamJobConfig c) {
    return switch (c.dataset) {
      case "synthetic" -> c.synthetic.dimension;
      case "fashion-mnist" -> FashionMnist.PIXELS;
      case "csv", "jsonl", "kafka" -> c.dimension;
      default -> DataSources.open(c.dataset, DataSource.Split.TRAIN, null).numFeatures();
    };
  }

  /** The trainer config: the configured one, or the dataset's default. */
  public static TrainerConfig trainerConfig(StreamJobConfig c) {
    return TrainerConfigs.fromTree(c.trainer != null ? c.trainer : defaultTrainer(c.dataset, dimension(c)));
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

  /** Records to read of a source with {@code rows} rows per pass: {@code limit > 0} caps it; unbounded: the default. */
  private static long records(long rows, long limit, long unboundedDefault) {
    if (rows == DataSource.UNBOUNDED) {
      return limit > 0 ? limit : unboundedDefault;
    }
    return limit > 0 ? Math.min(limit, rows) : rows;
  }

  private static DataStream<LabeledVector> source(StreamExecutionEnvironment env, Source<LabeledVector, ?, ?> s,
      String name) {
    return env.fromSource(s, WatermarkStrategy.noWatermarks(), name).uid(name).setParallelism(1);
  }

  /**
   * Adds the whole topology to {@code env} (sources, validation, trainer, publisher, embed operator, evaluator and the
   * report sinks under {@code c.outputDir}).
   */
  /**
   * An input file or directory of the job, checked before the job is built (a missing file would otherwise fail
   * inside Flink's source enumerator, after the job started, with its restarts and stack traces).
   *
   * @throws IllegalArgumentException naming the key and the path when it does not exist or cannot be read
   */
  static Path inputPath(String key, String path) {
    if (path == null || path.isBlank()) {
      throw new IllegalArgumentException(key + " is required for this dataset");
    }
    Path p = Path.of(path).toAbsolutePath();
    if (!Files.exists(p)) {
      throw new IllegalArgumentException(key + ": no such file or directory " + p);
    }
    if (!Files.isReadable(p)) {
      throw new IllegalArgumentException(key + ": cannot read " + p);
    }
    return p;
  }

  public static void build(StreamExecutionEnvironment env, StreamJobConfig c, TrainerFactory factory) {
    Path dir = Path.of(c.outputDir).toAbsolutePath();
    int dim = dimension(c);
    TrainerConfig tc = trainerConfig(c);
    DataStream<LabeledVector> train;
    DataStream<LabeledVector> heldout;
    switch (c.dataset) {
      case "synthetic" -> {
        StreamJobConfig.Synthetic s = c.synthetic;
        GeneratedRecords g = GeneratedRecords.synthetic(
            new SyntheticClusters(s.classes, s.dimension, s.noise, s.centerScale, s.seed), 0, s.corruptEvery);
        train = source(env, Sources.generated(g, c.trainRecords > 0 ? c.trainRecords : 20_000, c.recordsPerSecond),
            "train-source");
        heldout = source(env, Sources.generated(g.withIdOffset(HELDOUT_ID_OFFSET).withCorruptEvery(0),
            c.heldoutRecords, c.heldoutRecordsPerSecond), "heldout-source");
      }
      case "fashion-mnist" -> {
        Path data = Path.of(c.dataDir);
        train = source(env, Sources.fashionMnist(data, FashionMnist.Split.TRAIN, c.trainRecords, c.epochs,
            c.shuffleSeed, 0, c.recordsPerSecond), "train-source");
        // A seeded random subset of t10k: every class represented.
        heldout = source(env, Sources.fashionMnist(data, FashionMnist.Split.TEST, c.heldoutRecords, 7L, 1_000_000,
            c.heldoutRecordsPerSecond), "heldout-source");
      }
      case "csv" -> {
        train = source(env, Sources.csv(inputPath("train_path", c.trainPath)), "train-source");
        heldout = source(env, Sources.csv(inputPath("heldout_path", c.heldoutPath)), "heldout-source");
      }
      case "jsonl" -> {
        train = source(env, Sources.jsonLines(inputPath("train_path", c.trainPath)), "train-source");
        heldout = source(env, Sources.jsonLines(inputPath("heldout_path", c.heldoutPath)), "heldout-source");
      }
      case "kafka" -> {
        StreamJobConfig.Kafka k = c.kafka;
        train = source(env, Sources.kafka(k.bootstrapServers, k.trainTopic, k.groupId + "-train", k.bounded),
            "train-source");
        heldout = source(env, Sources.kafka(k.bootstrapServers, k.heldoutTopic, k.groupId + "-heldout", k.bounded),
            "heldout-source");
      }
      default -> {
        // Any other source of the core registry, with its default options: the train split (in epochs when finite),
        // held out a seeded sample of the test split.
        GeneratedRecords g = new GeneratedRecords(DataSources.open(c.dataset, DataSource.Split.TRAIN, null),
            c.shuffleSeed != null, c.shuffleSeed == null ? 0 : c.shuffleSeed, 0, 0);
        GeneratedRecords h = new GeneratedRecords(DataSources.open(c.dataset, DataSource.Split.TEST, null), true, 7L,
            HELDOUT_ID_OFFSET, 0);
        train = source(env, Sources.generated(g, records(g.rowsPerEpoch(), c.trainRecords, 20_000),
            c.recordsPerSecond), "train-source");
        heldout = source(env, Sources.generated(h, records(h.rowsPerEpoch(), c.heldoutRecords, c.heldoutRecords),
            c.heldoutRecordsPerSecond), "heldout-source");
      }
    }

    SingleOutputStreamOperator<LabeledVector> validTrain =
        train.process(new ValidateFunction(dim, true, c.maxAbsFeature))
        .name("validate-train").uid("validate-train").setParallelism(1);
    SingleOutputStreamOperator<LabeledVector> validHeldout =
        heldout.process(new ValidateFunction(dim, true, c.maxAbsFeature))
        .name("validate-heldout").uid("validate-heldout").setParallelism(1);
    TrainerOperator.Settings settings = new TrainerOperator.Settings(c.batchSize, c.publishEverySteps,
        Math.round(c.publishEverySeconds * 1000), true, c.trainFinalPartialBatch, c.verifyExport);
    SingleOutputStreamOperator<ModelUpdate> models = TrainerOperator.apply(validTrain, factory, tc, settings,
        c.trainerParallelism, Path.of(c.outputDir).toAbsolutePath().resolve("rendezvous"));
    validTrain.getSideOutput(ValidateFunction.REJECTED).union(validHeldout.getSideOutput(ValidateFunction.REJECTED),
            models.getSideOutput(TrainerOperator.REJECTED))
        .map(StreamingJob::rejectedJson).returns(Types.STRING).name("rejected-json").uid("rejected-json")
        .setParallelism(1).sinkTo(new TextLinesSink(dir.resolve(REJECTED))).name("rejected").uid("rejected")
        .setParallelism(1);
    // The Web UI shows operator descriptions in the job graph's nodes (the chain's name lists the operator names).
    models.setDescription("pml4j-trainer: online metric learning (" + describe(tc) + "), batches of " + c.batchSize
        + ", a model version every " + c.publishEverySteps + " steps");
    ModelPublisherSink.apply(models, dir.resolve(MODELS), c.keepModels);
    models.map(StreamingJob::updateJson).returns(Types.STRING).name("update-json").uid("update-json")
        .setParallelism(1).sinkTo(new TextLinesSink(dir.resolve(MODEL_UPDATES))).name("model-updates")
        .uid("model-updates").setParallelism(1);

    if (c.kafka.modelUpdatesTopic != null && !c.kafka.modelUpdatesTopic.isBlank()) {
      models.map(StreamingJob::updateJson).returns(Types.STRING).name("update-json-kafka").uid("update-json-kafka")
          .setParallelism(1).sinkTo(kafkaSink(c, c.kafka.modelUpdatesTopic, "version")).name("model-updates-kafka")
          .uid("model-updates-kafka").setParallelism(1);
    }

    DataStream<LabeledVector> queries = validHeldout;
    if (c.queries.equals("train")) {
      long every = c.queryEvery;
      queries = validTrain.filter(v -> Math.floorMod(v.id, every) == 0).name("queries").uid("queries")
          .setParallelism(1);
    }
    SingleOutputStreamOperator<Embedding> embeddings = EmbedOperator.apply(queries, models, c.embedParallelism);
    if (c.writeEmbeddings) {
      embeddings.map(StreamingJob::embeddingJson).returns(Types.STRING).name("embedding-json")
          .uid("embedding-json").setParallelism(1).sinkTo(new TextLinesSink(dir.resolve(EMBEDDINGS)))
          .name("embeddings").uid("embeddings").setParallelism(1);
    } else {
      embeddings.sinkTo(new DiscardingSink<>()).name("embeddings").uid("embeddings")
          .setParallelism(c.embedParallelism);
    }
    if (c.kafka.embeddingsTopic != null && !c.kafka.embeddingsTopic.isBlank()) {
      embeddings.map(StreamingJob::embeddingJson).returns(Types.STRING).name("embedding-json-kafka")
          .uid("embedding-json-kafka").setParallelism(c.embedParallelism)
          .sinkTo(kafkaSink(c, c.kafka.embeddingsTopic, "id")).name("embeddings-kafka").uid("embeddings-kafka")
          .setParallelism(c.embedParallelism);
    }
    if (c.retrieval.enabled) {
      RetrievalStage.attach(env, c, models, dim);
    }
    RetrievalEvaluator.Mode evaluate = RetrievalEvaluator.Mode.parse(c.evaluate);
    if (evaluate != RetrievalEvaluator.Mode.NONE) {
      RetrievalEvaluator.apply(validHeldout, models, c.heldoutRecords, evaluate,
          BackgroundPriority.parse(c.evaluatorPriority), c.evaluatorCpuShare)
          .setDescription("pml4j-evaluator: precision@1 and MAP@R of model versions (" + c.evaluate + ") on "
              + c.heldoutRecords + " held-out records")
          .map(StreamingJob::evalJson)
          .returns(Types.STRING).name("eval-json").uid("eval-json").setParallelism(1)
          .sinkTo(new TextLinesSink(dir.resolve(EVALUATIONS))).name("evaluations").uid("evaluations")
          .setParallelism(1);
    }
  }

  /**
   * An at-least-once Kafka sink of JSON lines into {@code topic} of {@code kafka.bootstrap_servers}, each keyed by
   * the value of its field {@code keyField}.
   */
  static KafkaSink<String> kafkaSink(StreamJobConfig c, String topic, String keyField) {
    return KafkaSink.<String>builder().setBootstrapServers(c.kafka.bootstrapServers)
        .setRecordSerializer(KafkaRecordSerializationSchema.<String>builder().setTopic(topic)
            .setKeySerializationSchema(new JsonFieldKey(keyField))
            .setValueSerializationSchema(new SimpleStringSchema()).build())
        .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE).build();
  }

  /** The text of one field of a JSON line, as UTF-8 bytes (a Kafka record key). */
  static final class JsonFieldKey implements SerializationSchema<String> {
    private static final long serialVersionUID = 1L;
    private final String field;

    JsonFieldKey(String field) {
      this.field = field;
    }

    @Override
    public byte[] serialize(String json) {
      try {
        return LINES.readTree(json).path(field).asText().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
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
    Path dir = Path.of(c.outputDir).toAbsolutePath();
    Configuration conf = new Configuration();
    conf.set(PipelineOptions.GENERIC_TYPES, false);
    if (cluster.getOptional(PipelineOptions.NAME).isEmpty()) {
      conf.set(PipelineOptions.NAME, "pml4j-stream-" + c.dataset);
    }
    if (cluster.getOptional(CheckpointingOptions.CHECKPOINT_STORAGE).isEmpty()
        && cluster.getOptional(CheckpointingOptions.CHECKPOINTS_DIRECTORY).isEmpty()) {
      conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
      conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir.resolve(CHECKPOINTS).toUri().toString());
    }
    if (c.retainCheckpoints && cluster.getOptional(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION).isEmpty()) {
      conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
          ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
    }
    if (c.restoreFrom != null && !c.restoreFrom.isBlank()) {
      conf.set(StateRecoveryOptions.SAVEPOINT_PATH, restoreUri(c.restoreFrom));
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

  /**
   * Runs the job in an embedded MiniCluster with the Web UI on localhost, waits for it and writes
   * {@code summary.json}. The output directory is prepared by {@link #prepareOutputDir}: a non-empty directory that
   * pml4j did not write is refused, and only an earlier run's own outputs are deleted.
   *
   * @param log where progress lines (the Web UI address) go
   * @return the summary
   */
  @SuppressWarnings("try")
  public static JsonNode run(StreamJobConfig c, TrainerFactory factory, PrintStream log) throws Exception {
    if (c.dataset.equals("csv") || c.dataset.equals("jsonl")) {
      inputPath("train_path", c.trainPath); // before anything starts or is removed
      inputPath("heldout_path", c.heldoutPath);
    }
    Path dir = Path.of(c.outputDir).toAbsolutePath();
    prepareOutputDir(dir, c.restoreFrom);
    Files.writeString(dir.resolve("config.json"), c.toJson());
    Configuration cluster = new Configuration();
    cluster.set(RestOptions.ADDRESS, "localhost");
    cluster.set(RestOptions.BIND_ADDRESS, "localhost");
    cluster.set(RestOptions.BIND_PORT, Integer.toString(c.webUiPort));
    int slots = c.slots > 0 ? c.slots
        : Math.max(c.trainerParallelism, Math.max(c.embedParallelism, c.retrieval.enabled ? c.retrieval.shards : 1));
    MiniClusterConfiguration mcc = new MiniClusterConfiguration.Builder().setConfiguration(cluster)
        .setNumTaskManagers(1).setNumSlotsPerTaskManager(slots).build();
    long t0 = System.nanoTime();
    try (MiniCluster mc = new MiniCluster(mcc)) {
      mc.start();
      URI ui = mc.getRestAddress().get();
      log.println("pml4j stream: Flink Web UI at " + ui + " (dataset " + c.dataset + ", output " + dir + ")");
      StreamExecutionEnvironment env = environment(c);
      build(env, c, factory);
      JobGraph job = env.getStreamGraph().getJobGraph();
      if (c.restoreFrom != null && !c.restoreFrom.isBlank()) {
        // env.execute() would take this from the configuration; a JobGraph submitted directly needs it set.
        job.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(restoreUri(c.restoreFrom), false));
        log.println("pml4j stream: restoring from " + c.restoreFrom);
      }
      mc.submitJob(job).get();
      log.println("pml4j stream: submitted job " + job.getJobID());
      JobResult result;
      if (c.durationSeconds > 0) {
        try {
          result = mc.requestJobResult(job.getJobID()).get(Math.round(c.durationSeconds * 1000),
              java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
          log.println("pml4j stream: duration of " + c.durationSeconds + " s reached; stopping the job with a "
              + "draining savepoint (the trainer publishes its final model)");
          String sp = mc.stopWithSavepoint(job.getJobID(), dir.resolve(SAVEPOINTS).toUri().toString(), true,
              SavepointFormatType.CANONICAL).get();
          log.println("pml4j stream: savepoint " + sp + " (continue this run in the same directory with "
              + "--set restore_from=" + sp + ")");
          result = mc.requestJobResult(job.getJobID()).get();
        }
      } else {
        result = mc.requestJobResult(job.getJobID()).get();
      }
      JobExecutionResult r = result.toJobExecutionResult(StreamingJob.class.getClassLoader());
      double seconds = (System.nanoTime() - t0) / 1e9;
      ObjectNode summary = summarize(dir, r, seconds, ui.toString());
      summary.put("dataset", c.dataset);
      if (c.retrieval.enabled) {
        summary.set("retrieval", RetrievalStage.summarize(dir, c, r));
        log.println("pml4j stream: retrieval " + summary.get("retrieval"));
      }
      writeAtomically(dir.resolve(SUMMARY), StreamJobConfig.JSON.writeValueAsString(summary));
      log.println("pml4j stream: " + oneLine(summary));
      log.println("pml4j stream: wrote " + dir.resolve(SUMMARY));
      if (c.keepUiSeconds > 0) {
        log.println("pml4j stream: Web UI stays up for " + c.keepUiSeconds + " s at " + ui);
        Thread.sleep(c.keepUiSeconds * 1000L);
      }
      return summary;
    }
  }

  private static String oneLine(JsonNode s) {
    return String.format(java.util.Locale.ROOT, "%d model versions (%d evaluated); untrained %s; final %s; %.0f "
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

  /** Builds summary.json from the report files and the job's accumulators. */
  static ObjectNode summarize(Path dir, JobExecutionResult r, double jobSeconds, String webUi) throws IOException {
    ObjectMapper m = StreamJobConfig.JSON;
    Map<Long, JsonNode> evals = lastByVersion(dir.resolve(EVALUATIONS));
    Map<Long, JsonNode> updates = lastByVersion(dir.resolve(MODEL_UPDATES));
    ObjectNode s = m.createObjectNode();
    s.put("model_versions", updates.size());
    s.put("evaluated_versions", evals.size());
    ArrayNode versions = s.putArray("versions");
    for (Map.Entry<Long, JsonNode> e : updates.entrySet()) {
      ObjectNode v = versions.addObject();
      v.put("version", e.getKey());
      long step = e.getValue().path("step").asLong();
      v.put("step", step);
      v.put("published_at_ms", e.getValue().path("created_at_ms").asLong());
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
    if (!evals.isEmpty()) {
      s.set("final", evalNode(evals.get(((TreeMap<Long, JsonNode>) evals).lastKey())));
      s.set("untrained", evals.containsKey(0L) ? evalNode(evals.get(0L)) : m.nullNode());
    }
    if (!updates.isEmpty()) {
      JsonNode last = updates.get(((TreeMap<Long, JsonNode>) updates).lastKey());
      JsonNode metrics = last.path("metrics");
      s.put("final_step", last.path("step").asLong());
      s.put("samples", metrics.path(TrainerOperator.METRIC_SAMPLES).asLong());
      s.put("parallelism", metrics.path(TrainerOperator.METRIC_PARALLELISM).asInt(1));
      s.put("replicas_identical", updates.values().stream().allMatch(
          u -> u.path("metrics").path(TrainerOperator.METRIC_REPLICAS_IDENTICAL).asDouble(1) == 1));
      s.put("train_seconds", metrics.path(TrainerOperator.METRIC_TRAIN_SECONDS).asDouble());
      // samples_per_sec counts only the time inside train steps (the trainer's speed); wall_samples_per_sec is the
      // job's throughput from the first published version to the last, waits for input included.
      s.put("samples_per_sec", metrics.path(TrainerOperator.METRIC_SAMPLES_PER_SEC).asDouble());
      JsonNode first = updates.values().iterator().next();
      double wall = (last.path("created_at_ms").asLong() - first.path("created_at_ms").asLong()) / 1000.0;
      double samplesBetween = metrics.path(TrainerOperator.METRIC_SAMPLES).asDouble()
          - first.path("metrics").path(TrainerOperator.METRIC_SAMPLES).asDouble(0);
      double stepSecondsBetween = metrics.path(TrainerOperator.METRIC_TRAIN_SECONDS).asDouble()
          - first.path("metrics").path(TrainerOperator.METRIC_TRAIN_SECONDS).asDouble(0);
      if (wall > 0 && first != last) {
        s.put("wall_seconds", wall);
        s.put("wall_samples_per_sec", samplesBetween / wall);
        s.put("trainer_busy_share", Math.min(1.0, stepSecondsBetween / wall));
      } else {
        s.putNull("wall_seconds");
        s.putNull("wall_samples_per_sec");
        s.putNull("trainer_busy_share");
      }
      double cpu = metrics.path(TrainerOperator.METRIC_TRAIN_CPU_SECONDS).asDouble();
      s.put("train_cpu_seconds", cpu);
      s.put("samples_per_cpu_sec", cpu > 0 ? metrics.path(TrainerOperator.METRIC_SAMPLES).asDouble() / cpu : 0.0);
      // Steady state: from the first version at or after STEADY_AFTER_STEPS steps (warm-up excluded) to the last.
      JsonNode from = null;
      for (JsonNode u : updates.values()) {
        if (u.path("step").asLong() >= STEADY_AFTER_STEPS) {
          from = u;
          break;
        }
      }
      if (from != null && from != last) {
        double ds = metrics.path(TrainerOperator.METRIC_SAMPLES).asDouble()
            - from.path("metrics").path(TrainerOperator.METRIC_SAMPLES).asDouble();
        double dt = metrics.path(TrainerOperator.METRIC_TRAIN_SECONDS).asDouble()
            - from.path("metrics").path(TrainerOperator.METRIC_TRAIN_SECONDS).asDouble();
        s.put("steady_samples_per_sec", dt > 0 ? ds / dt : 0.0);
        s.put("steady_from_step", from.path("step").asLong());
      } else {
        s.putNull("steady_samples_per_sec");
      }
    }
    s.put("job_seconds", jobSeconds);
    Object rejected = r.getAccumulatorResult(ValidateFunction.ACCUMULATOR);
    s.put("rejected", rejected == null ? 0 : ((Number) rejected).longValue());
    Object skippedSteps = r.getAccumulatorResult(TrainerOperator.SKIPPED_ACCUMULATOR);
    s.put("skipped_nonfinite", skippedSteps == null ? 0 : ((Number) skippedSteps).longValue());
    Object hist = r.getAccumulatorResult(EmbedOperator.LATENCY_ACCUMULATOR);
    ObjectNode lat = s.putObject("refresh_latency_ms");
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
    s.put("web_ui", webUi);
    s.put("net_runtime_ms", r.getNetRuntime());
    return s;
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

  private static Map<Long, JsonNode> lastByVersion(Path p) throws IOException {
    Map<Long, JsonNode> out = new TreeMap<>();
    if (!Files.exists(p)) {
      return out;
    }
    for (String line : Files.readAllLines(p)) {
      if (!line.isBlank()) {
        JsonNode n = StreamJobConfig.JSON.readTree(line);
        out.put(n.path("version").asLong(), n);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- report lines

  private static final ObjectMapper LINES = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

  static String rejectedJson(RejectedRecord r) {
    ObjectNode n = LINES.createObjectNode();
    n.put("id", r.record.id);
    n.put("reason", r.reason);
    n.put("detail", r.detail);
    return n.toString();
  }

  static String updateJson(ModelUpdate u) {
    ObjectNode n = LINES.createObjectNode();
    n.put("version", u.version);
    n.put("step", u.step);
    n.put("model_file", org.pml4j.onnx.ModelPublisher.fileName(u.version));
    n.put("onnx_bytes", u.onnx.length);
    n.put("created_at_ms", u.createdAtMillis);
    ObjectNode m = n.putObject("metrics");
    u.metrics.forEach(m::put);
    return n.toString();
  }

  static String evalJson(EvalResult e) {
    ObjectNode n = LINES.createObjectNode();
    n.put("version", e.modelVersion);
    n.put("step", e.step);
    n.put("precision_at_1", e.precisionAt1);
    n.put("mean_average_precision_at_r", e.meanAveragePrecisionAtR);
    n.put("samples", e.samples);
    n.put("evaluated_at_ms", e.evaluatedAtMillis);
    return n.toString();
  }

  static String embeddingJson(Embedding e) {
    ObjectNode n = LINES.createObjectNode();
    n.put("id", e.id);
    if (e.label != null) {
      n.put("label", e.label);
    }
    n.put("model_version", e.modelVersion);
    ArrayNode a = n.putArray("vector");
    for (float x : e.vector) {
      a.add(x);
    }
    return n.toString();
  }

  // ---------------------------------------------------------------- files

  /** The marker file that {@link #prepareOutputDir} writes: the directory holds pml4j stream outputs. */
  public static final String MARKER = ".pml4j-stream";

  private static final java.util.regex.Pattern MODEL_FILE = java.util.regex.Pattern.compile("model-v\\d+\\.onnx");
  private static final java.util.regex.Pattern JOB_ID = java.util.regex.Pattern.compile("[0-9a-f]{32}");

  /**
   * Makes {@code dir} ready for a run without ever deleting what pml4j did not write:
   *
   * <ul>
   *   <li>missing or empty: created, and the marker file {@value #MARKER} written;
   *   <li>not empty and without the marker: refused with an {@link IllegalArgumentException} (it is not a pml4j
   *       output directory);
   *   <li>with the marker and {@code restoreFrom} inside it: nothing is deleted, the restored run continues there
   *       (its report lines are appended; readers keep the last line per model version);
   *   <li>with the marker otherwise: the previous run's outputs are deleted by name (the report files, {@code
   *       models/model-v*.onnx} and {@code models/manifest.json}, Flink's {@code checkpoints/<job id>} and {@code
   *       savepoints/savepoint-*} directories). Any other file stays.
   * </ul>
   *
   * @param restoreFrom the checkpoint or savepoint the run restores from (path or {@code file:} URI), or null
   */
  public static void prepareOutputDir(Path dir, String restoreFrom) throws IOException {
    dir = checkOutputDir(dir);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(MARKER), "This directory holds the outputs of pml4j stream. A new run here deletes "
        + "the previous run's outputs (reports, model-v*.onnx, manifest.json, Flink checkpoints and savepoints) and "
        + "nothing else.\n");
    if (restoreFrom != null && !restoreFrom.isBlank()) {
      URI from = URI.create(restoreUri(restoreFrom));
      if ("file".equals(from.getScheme()) && Path.of(from).normalize().startsWith(dir)) {
        return; // continuing this directory's run
      }
    }
    for (String name : new String[] {SUMMARY, EVALUATIONS, MODEL_UPDATES, REJECTED, EMBEDDINGS}) {
      Files.deleteIfExists(dir.resolve(name));
    }
    deleteChildren(dir.resolve(MODELS), p -> MODEL_FILE.matcher(p).matches() || p.equals("manifest.json"));
    deleteChildren(dir.resolve(CHECKPOINTS), p -> JOB_ID.matcher(p).matches());
    deleteChildren(dir.resolve(SAVEPOINTS), p -> p.startsWith("savepoint-"));
  }

  /**
   * Checks, without changing anything, that {@code dir} can hold a run: missing, empty, or marked as a pml4j stream
   * output (see {@link #prepareOutputDir}).
   *
   * @return the absolute, normalized directory
   * @throws IllegalArgumentException when {@code dir} is a file, or a non-empty directory without the marker
   */
  public static Path checkOutputDir(Path dir) throws IOException {
    dir = dir.toAbsolutePath().normalize();
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new IllegalArgumentException("output directory " + dir + " is a file");
    }
    boolean empty;
    if (!Files.exists(dir)) {
      empty = true;
    } else {
      try (var list = Files.list(dir)) {
        empty = list.findAny().isEmpty();
      }
    }
    if (!empty && !Files.exists(dir.resolve(MARKER))) {
      throw new IllegalArgumentException("output directory " + dir + " is not empty and is not a pml4j stream output "
          + "(no " + MARKER + " file): pml4j never deletes or overwrites files it did not write; choose a new or "
          + "empty directory");
    }
    return dir;
  }

  private static void deleteChildren(Path parent, java.util.function.Predicate<String> ours) throws IOException {
    if (!Files.isDirectory(parent)) {
      return;
    }
    List<Path> children;
    try (var list = Files.list(parent)) {
      children = list.filter(p -> ours.test(p.getFileName().toString())).toList();
    }
    for (Path child : children) {
      try (var walk = Files.walk(child)) {
        for (Path f : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(f);
        }
      }
    }
  }

  /** A restore path as a URI: a {@code scheme:} URI as given, a local path made absolute. */
  static String restoreUri(String restoreFrom) {
    String r = restoreFrom.trim();
    if (r.matches("[a-zA-Z][a-zA-Z0-9+.-]+:.*")) {
      return r;
    }
    return Path.of(r).toAbsolutePath().normalize().toUri().toString();
  }

  private static void writeAtomically(Path target, String content) throws IOException {
    Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
    Files.writeString(tmp, content);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Command line: {@code StreamingJob [--config FILE] [--key value ...]} (see {@link StreamJobConfig}). Uses
   * {@link TrainerFactory#DEFAULT}. Started by {@code flink run} (the shaded {@code pml4j-flink-<version>-job.jar}),
   * it submits the topology to that cluster; started any other way, it runs {@link #run} in an embedded MiniCluster.
   */
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && (args[0].equals("-h") || args[0].equals("--help"))) {
      System.out.println("usage: StreamingJob [--config FILE.json] [--key value ...] (keys also kebab-case)\n"
          + StreamJobConfig.keysHelp());
      return;
    }
    StreamJobConfig c = StreamJobConfig.fromArgs(args);
    StreamExecutionEnvironment env = environment(c);
    if (env instanceof org.apache.flink.client.program.StreamContextEnvironment) {
      // Submitted with `flink run` (the CLI installed its context environment): build the topology into it and let
      // the cluster run it. output_dir must be a path that every TaskManager can write (a shared mount).
      prepareOutputDir(Path.of(c.outputDir), c.restoreFrom);
      build(env, c, TrainerFactory.DEFAULT);
      JobExecutionResult r = env.execute("pml4j-stream-" + c.dataset);
      System.out.println("pml4j stream: job " + r.getJobID() + " finished in " + r.getNetRuntime() + " ms; "
          + "rejected " + r.getAccumulatorResult(ValidateFunction.ACCUMULATOR) + "; outputs in " + c.outputDir);
      return;
    }
    run(c, TrainerFactory.DEFAULT, System.out);
  }
}
