package org.pml4j.flink;

import com.fasterxml.jackson.annotation.JsonMerge;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;

/**
 * Configuration of {@link StreamingJob}: JSON (snake_case keys) and/or command-line flags.
 *
 * <pre>{@code
 * {"output_dir": "pml4j-out/stream", "dataset": "fashion-mnist", "train_records": 60000, "heldout_records": 2000,
 *  "batch_size": 128, "publish_every_steps": 50, "trainer": {"encoder": {...}, "loss": {...}, ...}}
 * }</pre>
 *
 * Flags: {@code --config FILE} reads a JSON file; every other {@code --some-key VALUE} sets {@code some_key}
 * (dots reach into objects: {@code --synthetic.classes 8}, {@code --trainer.loss '{"class": "..."}'}); a value that
 * parses as JSON is taken as JSON, otherwise as a string. Flags apply after the file. Unknown keys are errors.
 *
 * <p>Datasets: {@code synthetic} (seeded clusters, see {@link Synthetic}), {@code fashion-mnist} (IDX files in
 * {@link #dataDir}: train for training, t10k held out), {@code csv} / {@code jsonl} ({@link #trainPath},
 * {@link #heldoutPath}), {@code kafka} ({@link Kafka}). A missing {@code trainer} gets a default for the dataset
 * ({@link StreamingJob#defaultTrainer}).
 */
public class StreamJobConfig {
  static final ObjectMapper JSON = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(SerializationFeature.INDENT_OUTPUT);

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
   * Which model versions the evaluator scores ({@link RetrievalEvaluator.Mode}): {@code latest} (the default: the
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
  public double evaluatorCpuShare = RetrievalEvaluator.DEFAULT_CPU_SHARE;
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
  public boolean verifyExport = true;
  public int embedParallelism = 1;
  /**
   * The query/catalog stream that the embed operator serves: {@code train} (every {@link #queryEvery}-th valid
   * training record, so queries keep flowing while the model changes and every version's refresh latency is
   * measured) or {@code heldout} (the held-out stream).
   */
  public String queries = "train";
  /** With {@code queries = train}: embed the training records whose id is a multiple of this. */
  public int queryEvery = 10;
  public int keepModels = 100;
  public long checkpointIntervalMs = 2000;
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
   * Restore from this retained checkpoint or savepoint ({@code .../checkpoints/<job>/chk-N}; null: start fresh). The
   * output directory should be a new one: {@link StreamingJob#run} clears the reports, models and checkpoints of its
   * own directory.
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
  }

  /** Parses command-line flags (see the class comment). */
  public static StreamJobConfig fromArgs(String... args) {
    ObjectNode tree = JSON.createObjectNode();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new IllegalArgumentException("expected --key value, got '" + a + "'");
      }
      String key = a.substring(2);
      String value;
      int eq = key.indexOf('=');
      if (eq >= 0) {
        value = key.substring(eq + 1);
        key = key.substring(0, eq);
      } else {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("flag --" + key + " needs a value");
        }
        value = args[++i];
      }
      if (key.equals("config")) {
        merge(tree, readFile(Path.of(value)));
      } else {
        set(tree, key.replace('-', '_'), parseValue(value));
      }
    }
    return fromTree(tree);
  }

  /** Reads a JSON config file. */
  public static StreamJobConfig fromFile(Path p) {
    return fromTree(readFile(p));
  }

  /** Maps a JSON tree onto the defaults. */
  public static StreamJobConfig fromTree(JsonNode tree) {
    try {
      StreamJobConfig c = new StreamJobConfig();
      JSON.readerForUpdating(c).readValue(tree);
      c.check();
      return c;
    } catch (IOException e) {
      throw new IllegalArgumentException("bad stream job config: " + e.getMessage(), e);
    }
  }

  void check() {
    if (!java.util.List.of("synthetic", "fashion-mnist", "csv", "jsonl", "kafka").contains(dataset)) {
      throw new IllegalArgumentException("dataset must be one of synthetic, fashion-mnist, csv, jsonl, kafka; got '"
          + dataset + "'");
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
    RetrievalEvaluator.Mode.parse(evaluate);
    BackgroundPriority.parse(evaluatorPriority);
    RetrievalEvaluator.checkCpuShare(evaluatorCpuShare);
    if (epochs < 1 || (epochs > 1 && !dataset.equals("fashion-mnist"))) {
      throw new IllegalArgumentException("epochs must be >= 1, and more than 1 only for dataset fashion-mnist (got "
          + epochs + " for " + dataset + ")");
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

  private static JsonNode readFile(Path p) {
    try {
      return JSON.readTree(Files.readString(p));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read config " + p, e);
    }
  }

  private static JsonNode parseValue(String v) {
    try {
      JsonNode n = JSON.readTree(v);
      return n == null ? TextNode.valueOf(v) : n;
    } catch (IOException e) {
      return TextNode.valueOf(v);
    }
  }

  private static void set(ObjectNode tree, String dotted, JsonNode value) {
    String[] parts = dotted.split("\\.");
    ObjectNode n = tree;
    for (int i = 0; i < parts.length - 1; i++) {
      JsonNode child = n.get(parts[i]);
      if (!(child instanceof ObjectNode)) {
        child = n.putObject(parts[i]);
      }
      n = (ObjectNode) child;
    }
    n.set(parts[parts.length - 1], value);
  }

  private static void merge(ObjectNode into, JsonNode from) {
    for (Map.Entry<String, JsonNode> e : from.properties()) {
      JsonNode old = into.get(e.getKey());
      if (old instanceof ObjectNode o && e.getValue().isObject() && !e.getKey().equals("trainer")) {
        merge(o, e.getValue());
      } else {
        into.set(e.getKey(), e.getValue());
      }
    }
  }
}
