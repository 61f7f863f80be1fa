package org.pml4j.flink;

import com.fasterxml.jackson.annotation.JsonMerge;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import org.pml4j.data.DataSources;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;
import org.pml4j.spec.Messages;

/**
 * Configuration of {@link StreamingJob}: JSON (snake_case keys) and/or command-line flags.
 *
 * <pre>{@code
 * {"output_dir": "pml4j-out/stream", "dataset": "fashion-mnist", "train_records": 60000, "heldout_records": 2000,
 *  "batch_size": 128, "publish_every_steps": 50, "trainer": {"encoder": {...}, "loss": {...}, ...}}
 * }</pre>
 *
 * Flags ({@code --config FILE}, {@code --some-key VALUE}, dotted keys into objects) and files are read by
 * {@link JobConfigReader}; unknown keys are errors. This class holds the keys, their defaults and {@link #check}.
 *
 * <p>Datasets: {@code synthetic} (seeded clusters, see {@link Synthetic}), {@code fashion-mnist} (IDX files in
 * {@link #dataDir}: train for training, t10k held out), {@code csv} / {@code jsonl} ({@link #trainPath},
 * {@link #heldoutPath}), {@code kafka} ({@link Kafka}). A missing {@code trainer} gets a default for the dataset
 * ({@link StreamTopology#defaultTrainer}).
 */
public class StreamJobConfig {
  static final ObjectMapper JSON = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(SerializationFeature.INDENT_OUTPUT);

  /** The values of {@link #dataset}. */
  public static final java.util.List<String> DATASETS = java.util.List.of("synthetic", "fashion-mnist", "csv", "jsonl",
      "kafka");

  /** Where models, checkpoints, evaluations and summary.json go. */
  public String outputDir = "pml4j-out/stream";
  /** synthetic, fashion-mnist, csv, jsonl or kafka. */
  public String dataset = "synthetic";
  /** Fashion-MNIST directory. */
  public String dataDir = FashionMnist.DEFAULT_DIR;
  /** Training file (csv / jsonl). */
  public String trainPath;
  /** Held-out file (csv / jsonl). */
  public String heldoutPath;
  /** Feature dimension (needed for csv / jsonl / kafka; derived otherwise). */
  public int dimension;
  /** Training records (0: the whole dataset; synthetic: required count, default 20000). */
  public long trainRecords;
  /** Held-out records kept by the evaluator (and embedded). */
  public int heldoutRecords = 1000;
  /**
   * Which model versions the evaluator scores ({@link EvalPolicy.Mode}): {@code latest} (the default: the
   * newest version whenever the evaluator is free, plus version 0 and the final version; never holds back the
   * trainer), {@code every} (every version, in order; a backlog waits in state when evaluating is slower than
   * publishing) or {@code none} (no evaluator in the job).
   */
  public String evaluate = "latest";
  /**
   * Scheduling priority of the evaluator's background thread (Linux): {@code idle} (the default: only CPU that the
   * task threads leave idle, so scoring does not slow the trainer), {@code low} (nice 19) or {@code normal}. See
   * {@link BackgroundPriority}.
   */
  public String evaluatorPriority = "idle";
  /**
   * Share of one core the evaluator may use while training runs, in (0, 1]: after an evaluation of {@code c}
   * CPU-seconds it waits {@code c * (1 / share - 1)} seconds before the next (the versions published meanwhile are
   * skipped in mode {@code latest}); 1 evaluates back to back.
   */
  public double evaluatorCpuShare = EvalPolicy.DEFAULT_CPU_SHARE;
  /** Fashion-MNIST: passes over the training split (each epoch in its own seeded order). */
  public int epochs = 1;
  /** Seed of the Fashion-MNIST training permutation (null: file order). */
  public Long shuffleSeed = 1L;
  /** Rate limit of the training source (records/s, 0: none). */
  public double recordsPerSecond;
  /** Rate limit of the held-out (query) source (records/s, 0: none). */
  public double heldoutRecordsPerSecond;
  @JsonMerge
  public Synthetic synthetic = new Synthetic();
  @JsonMerge
  public Kafka kafka = new Kafka();
  /** The versioned retrieval index ({@link RetrievalStage}); off unless {@code retrieval.enabled}. */
  @JsonMerge
  public RetrievalStage.Config retrieval = new RetrievalStage.Config();
  /** The trainer ({@link TrainerConfigs} JSON); null: the dataset's default. */
  public JsonNode trainer;
  public int batchSize = 64;
  public long publishEverySteps = 50;
  public double publishEverySeconds;
  public boolean trainFinalPartialBatch;
  /**
   * Validation rejects a record with a feature of larger magnitude (reason {@code out_of_range}); 0: no bound. The
   * default, 1e12, is far above any normalized or raw-pixel input and far enough below float32's 3.4e38 that a
   * typical encoder's products, squares and norms cannot overflow on one record (a record of 3e38 values overflows
   * the first Linear layer). The trainer's non-finite guard stays behind it for what a bound cannot foresee.
   */
  public double maxAbsFeature = ValidateFunction.DEFAULT_MAX_ABS;
  public boolean verifyExport = true;
  public int embedParallelism = 1;
  /**
   * Trainer replicas (data-parallel, issue 13; {@code --parallelism N}); {@code batch_size} is the global batch. 0
   * (unset): the job's parallelism under {@code flink run}, 1 embedded ({@link JobEnvironment#trainerParallelism}).
   */
  @com.fasterxml.jackson.annotation.JsonAlias("parallelism")
  public int trainerParallelism = 0;
  /**
   * ATen and OpenBLAS threads of each trainer replica ({@code --threads N}); 0 (unset): the trainer config's {@code
   * threads} (the default trainer's: 1). Threads per replica times the replicas on a machine should not exceed its
   * cores (see the README's data-parallel section).
   */
  public int trainerThreads = 0;
  /**
   * Where the trainer keeps its parameters and runs its steps ({@code --device}): {@code cpu}, {@code cuda}, {@code
   * cuda:N} or {@code auto} (cuda when LibTorch sees a GPU, else cpu); null (unset): the trainer config's {@code
   * device}, cpu by default. With {@code trainer_parallelism} N and {@code cuda}, replica r uses {@code cuda:(r %
   * GPUs)} and the replicas all-reduce through NCCL instead of Gloo. CUDA needs the {@code cuda} Maven profile's
   * LibTorch and a GPU; without them reading the config fails, naming this key.
   */
  public String device;
  /**
   * Where data-parallel trainer replicas bind their Gloo devices and rank 0 its store's published address ({@link
   * TrainerReplicas#bindAddress}): {@code taskmanager} (the TaskManager's own address), {@code hostname}, or a host.
   */
  public String trainerBindHost = TrainerReplicas.BIND_TASKMANAGER;
  /**
   * Data-parallel replicas: how long to wait for the peers to form the group and in each collective; a lost peer
   * fails the task after it, and Flink restarts the job (keep it well under Flink's heartbeat timeout, 50 s).
   */
  public double trainerReplicaTimeoutSeconds = TrainerReplicas.DEFAULT_TIMEOUT.toMillis() / 1000.0;
  /**
   * Data-parallel replicas: PML's {@code efficient} form of the distributed loss and miner (local anchors against the
   * gathered batch: 1/N of the mining and loss work per replica, a different gradient); false (PML's default): the
   * replicas train exactly as one trainer on the global batch.
   */
  public boolean trainerEfficient = false;
  /**
   * The query/catalog stream that the embed operator serves: {@code train} (every {@link #queryEvery}-th valid
   * training record, so queries keep flowing while the model changes and every version's refresh latency is
   * measured) or {@code heldout} (the held-out stream).
   */
  public String queries = "train";
  /** With {@code queries = train}: embed the training records whose id is a multiple of this. */
  public int queryEvery = 10;
  public int keepModels = 100;
  /**
   * Checkpoint interval in ms; 0: no checkpoints. Unset (null, the default): {@value #DEFAULT_CHECKPOINT_INTERVAL_MS},
   * or {@value #RETRIEVAL_CHECKPOINT_INTERVAL_MS} with {@code retrieval.enabled}: every checkpoint holds the queries
   * at the retrieval shards until its barrier has come through the trainer (Flink aligns every input of an operator
   * with a broadcast input: the shards'), so fewer checkpoints mean fewer query stalls (measured: query p99 16-35 ms at
   * 10 s, against 62-290 ms at 2 s). See {@link #checkpointInterval()}.
   */
  public Long checkpointIntervalMs;
  /** The checkpoint interval when {@code checkpoint_interval_ms} is unset and retrieval is off. */
  public static final long DEFAULT_CHECKPOINT_INTERVAL_MS = 2000;
  /** The checkpoint interval when {@code checkpoint_interval_ms} is unset and retrieval is on. */
  public static final long RETRIEVAL_CHECKPOINT_INTERVAL_MS = 10_000;

  /**
   * {@code checkpoint_interval_ms}, or its default for this job when unset (see {@link #checkpointIntervalMs}).
   *
   * @throws IllegalArgumentException when it is negative
   */
  public long checkpointInterval() {
    if (checkpointIntervalMs != null && checkpointIntervalMs < 0) {
      throw new IllegalArgumentException("checkpoint_interval_ms must be >= 0 (0: no checkpoints), got "
          + checkpointIntervalMs);
    }
    return checkpointIntervalMs != null ? checkpointIntervalMs
        : retrieval != null && retrieval.enabled ? RETRIEVAL_CHECKPOINT_INTERVAL_MS : DEFAULT_CHECKPOINT_INTERVAL_MS;
  }
  /** Web UI port (0: any free port). */
  public int webUiPort = 8081;
  /**
   * Wall-clock budget of the job in {@link StreamingJob#run} (seconds, 0: until the bounded input ends). When it is
   * exceeded the job is stopped with a draining savepoint (into {@code DIR/savepoints}): the sources end, the trainer
   * trains its last full batch and publishes the final model, as at the end of the input. (A stop by time is not
   * reproducible to the record; a bounded {@link #trainRecords} is.)
   */
  public double durationSeconds;
  /**
   * Restore from this retained checkpoint or savepoint (a path or {@code file:} URI:
   * {@code DIR/checkpoints/<job>/chk-N} or the {@code DIR/savepoints/savepoint-...} that a stop by
   * {@link #durationSeconds} prints; null: start fresh). Restoring into the output directory it came from continues
   * that run there: {@link StreamingJob#run} then deletes nothing (see {@link OutputDirectory#prepare}).
   */
  public String restoreFrom;
  /** Keep the last checkpoint when the job is cancelled (it is kept anyway when the process dies). */
  public boolean retainCheckpoints = true;
  /** Keep the MiniCluster (and its Web UI) up this long after the job. */
  public int keepUiSeconds;
  /** Also write every embedding to embeddings.jsonl. */
  public boolean writeEmbeddings;
  /** Slots of the MiniCluster's TaskManager (0: enough for the job). */
  public int slots;

  /** The synthetic dataset. */
  public static class Synthetic {
    public int classes = SyntheticClusters.DEFAULT_CLASSES;
    public int dimension = SyntheticClusters.DEFAULT_DIMENSION;
    public double noise = SyntheticClusters.DEFAULT_NOISE;
    public double centerScale = SyntheticClusters.DEFAULT_CENTER_SCALE;
    public long seed = SyntheticClusters.DEFAULT_SEED;
    /** Every n-th training record is made invalid (0: none), to exercise validation. */
    public long corruptEvery;
  }

  /** Kafka topics of JSON LabeledVector values. */
  public static class Kafka {
    public String bootstrapServers = "localhost:9092";
    public String trainTopic = "pml4j-train";
    public String heldoutTopic = "pml4j-heldout";
    public String groupId = "pml4j";
    /** Stop at the offsets that are the latest at start (a finite, replayable run). */
    public boolean bounded = true;
    /**
     * Also write every embedding to this topic (the JSON of embeddings.jsonl, keyed by record id; null: none). Works
     * with any dataset; the broker is {@link #bootstrapServers}.
     */
    public String embeddingsTopic;
    /**
     * Also write one JSON value per published model version to this topic ({@code version}, {@code step},
     * {@code model_file} in DIR/models, {@code onnx_bytes}, {@code metrics}; keyed by version; null: none).
     */
    public String modelUpdatesTopic;
  }

  /** Parses command-line flags ({@link JobConfigReader#fromArgs}). */
  public static StreamJobConfig fromArgs(String... args) {
    return JobConfigReader.fromArgs(args);
  }

  /** Reads a JSON config file ({@link JobConfigReader#readFile}). */
  public static StreamJobConfig fromFile(Path p) {
    return JobConfigReader.fromTree(JobConfigReader.readFile(p));
  }

  /** Maps a JSON tree onto the defaults ({@link JobConfigReader#fromTree}). */
  public static StreamJobConfig fromTree(JsonNode tree) {
    return JobConfigReader.fromTree(tree);
  }

  /** This config as flat {@code key -> value} strings (the keys of {@link JobConfigReader#keys()}; JSON otherwise). */
  public Map<String, String> toFlatMap() {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    JobConfigReader.flatten(this).forEach((k, v) -> out.put(k, v.isTextual() ? v.textValue() : v.toString()));
    return out;
  }

  /**
   * Checks the values that the JSON mapping cannot.
   *
   * @throws IllegalArgumentException naming the key whose value is invalid
   */
  void check() {
    if (!DATASETS.contains(dataset) && !DataSources.has(dataset)) {
      throw new IllegalArgumentException("dataset must be one of " + String.join(", ", DATASETS) + " or a data "
          + "source of org.pml4j.data.DataSources " + DataSources.names() + "; got '" + dataset + "'"
          + Messages.didYouMean(dataset, DATASETS));
    }
    if ((dataset.equals("csv") || dataset.equals("jsonl")) && (trainPath == null || heldoutPath == null)) {
      throw new IllegalArgumentException("dataset " + dataset + " needs train_path and heldout_path");
    }
    if ((dataset.equals("csv") || dataset.equals("jsonl") || dataset.equals("kafka")) && dimension < 1
        && trainer == null) {
      throw new IllegalArgumentException("dataset " + dataset + " needs dimension (or a trainer config)");
    }
    if (!queries.equals("train") && !queries.equals("heldout")) {
      throw new IllegalArgumentException("queries must be 'train' or 'heldout', got '" + queries + "'");
    }
    if (durationSeconds < 0) {
      throw new IllegalArgumentException("duration_seconds must be >= 0");
    }
    EvalPolicy.of(evaluate, evaluatorPriority, evaluatorCpuShare);
    if (epochs < 1 || (epochs > 1 && !dataset.equals("fashion-mnist"))) {
      throw new IllegalArgumentException("epochs must be >= 1, and more than 1 only for dataset fashion-mnist (got "
          + epochs + " for " + dataset + ")");
    }
    if (!(trainerReplicaTimeoutSeconds > 0) || Double.isInfinite(trainerReplicaTimeoutSeconds)) {
      throw new IllegalArgumentException("trainer_replica_timeout_seconds must be a positive number of seconds, got "
          + trainerReplicaTimeoutSeconds);
    }
    if (device != null) {
      // The form, and for cuda / cuda:N that LibTorch sees the GPU: a CPU-only build fails here, before any cluster.
      org.pml4j.train.Trainers.checkDevice(device);
    }
    if (queryEvery < 1) {
      throw new IllegalArgumentException("query_every must be >= 1");
    }
    if (batchSize < 2 || heldoutRecords < 2 || embedParallelism < 1 || keepModels < 1) {
      throw new IllegalArgumentException("batch_size, heldout_records must be >= 2; embed_parallelism, keep_models"
          + " >= 1");
    }
  }

  /** This config as JSON. */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
