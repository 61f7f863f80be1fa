package org.pml4j.flink;

import com.fasterxml.jackson.annotation.JsonMerge;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
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
  /**
   * Validation rejects a record with a feature of larger magnitude (reason {@code out_of_range}); 0: no bound. The
   * default, 1e12, is far above any normalized or raw-pixel input and far enough below float32's 3.4e38 that a
   * typical encoder's products, squares and norms cannot overflow on one record (a record of 3e38 values overflows
   * the first Linear layer). The trainer's non-finite guard stays behind it for what a bound cannot foresee.
   */
  public double maxAbsFeature = ValidateFunction.DEFAULT_MAX_ABS;
  public boolean verifyExport = true;
  public int embedParallelism = 1;
  /** Trainer replicas (data-parallel, issue 13; {@code --parallelism N}); {@code batch_size} is the global batch. */
  @com.fasterxml.jackson.annotation.JsonAlias("parallelism")
  public int trainerParallelism = 1;
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
   * Restore from this retained checkpoint or savepoint (a path or {@code file:} URI: {@code DIR/checkpoints/<job>/chk-N}
   * or the {@code DIR/savepoints/savepoint-...} that a stop by {@link #durationSeconds} prints; null: start fresh).
   * Restoring into the output directory it came from continues that run there: {@link StreamingJob#run} then deletes
   * nothing (see {@link StreamingJob#prepareOutputDir}).
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

  /**
   * Maps a JSON tree onto the defaults. An unknown key is an error naming it, with the closest known key and the
   * list of valid keys ({@link #keys()}).
   */
  public static StreamJobConfig fromTree(JsonNode tree) {
    try {
      StreamJobConfig c = new StreamJobConfig();
      JSON.readerForUpdating(c).readValue(tree);
      c.check();
      return c;
    } catch (UnrecognizedPropertyException e) {
      String key = dotted(e, e.getPropertyName());
      String prefix = key.contains(".") ? key.substring(0, key.lastIndexOf('.') + 1) : "";
      java.util.List<String> valid = new java.util.ArrayList<>();
      for (String k : keys().keySet()) {
        if (k.startsWith(prefix) && (prefix.isEmpty() || !k.substring(prefix.length()).contains("."))) {
          valid.add(prefix.isEmpty() && k.contains(".") ? k.substring(0, k.indexOf('.')) + ".*" : k);
        }
      }
      valid = valid.stream().distinct().toList();
      throw new IllegalArgumentException("unknown key '" + key + "'" + Messages.didYouMean(key, keys().keySet())
          + "; valid keys: " + String.join(", ", valid) + " (defaults: pml4j stream --keys)", e);
    } catch (JsonMappingException e) {
      String first = e.getOriginalMessage() == null ? String.valueOf(e) : e.getOriginalMessage().split("\n")[0];
      throw new IllegalArgumentException("key '" + dotted(e, null) + "': " + first, e);
    } catch (IOException e) {
      throw new IllegalArgumentException("bad stream job config: " + e.getMessage(), e);
    }
  }

  private static String dotted(JsonMappingException e, String last) {
    java.util.List<String> parts = new java.util.ArrayList<>();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        parts.add(r.getFieldName());
      }
    }
    if (last != null && (parts.isEmpty() || !parts.get(parts.size() - 1).equals(last))) {
      parts.add(last);
    }
    return String.join(".", parts);
  }

  /**
   * Every key with its default value, nested objects as dotted keys ({@code synthetic.classes}), in declaration
   * order. {@code trainer} (null: the dataset's default) is one key holding a JSON object.
   */
  public static Map<String, JsonNode> keys() {
    Map<String, JsonNode> out = new java.util.LinkedHashMap<>();
    flatten("", JSON.valueToTree(new StreamJobConfig()), out);
    return out;
  }

  /**
   * The key list of {@code --keys} / {@code --help}: one line per key with its default ({@code null}: unset), for
   * {@code --set KEY=VALUE}, {@code --KEY VALUE} or a {@code --config} JSON file.
   */
  public static String keysHelp() {
    StringBuilder b = new StringBuilder("StreamingJob keys (snake_case; in a --config JSON file nested as "
        + "{\"synthetic\": {\"classes\": 8}}, as flags dotted: synthetic.classes), with their defaults:\n");
    for (Map.Entry<String, JsonNode> e : keys().entrySet()) {
      b.append("  ").append(e.getKey()).append(" = ").append(e.getValue().isNull() ? "null"
          : e.getValue().toString()).append('\n');
    }
    b.append("dataset: ").append(String.join(" | ", DATASETS)).append("; trainer = null: the dataset's default "
        + "trainer (encoder, loss, miner, optimizer, memory_size, seed, threads as JSON); restore_from: a checkpoint "
        + "(DIR/checkpoints/<job>/chk-N) or savepoint (DIR/savepoints/savepoint-...) to continue from.\n");
    return b.toString();
  }

  /** This config as flat {@code key -> value} strings (the keys of {@link #keys()}; JSON for non-strings). */
  public Map<String, String> toFlatMap() {
    Map<String, JsonNode> flat = new java.util.LinkedHashMap<>();
    flatten("", JSON.valueToTree(this), flat);
    Map<String, String> out = new java.util.LinkedHashMap<>();
    flat.forEach((k, v) -> out.put(k, v.isTextual() ? v.textValue() : v.toString()));
    return out;
  }

  private static void flatten(String prefix, JsonNode n, Map<String, JsonNode> out) {
    for (Map.Entry<String, JsonNode> e : n.properties()) {
      if (e.getValue().isObject() && !e.getKey().equals("trainer")) {
        flatten(prefix + e.getKey() + ".", e.getValue(), out);
      } else {
        out.put(prefix + e.getKey(), e.getValue());
      }
    }
  }

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

  /**
   * Reads a JSON config file.
   *
   * @throws IllegalArgumentException naming the file when it is missing or not valid JSON (with line and column)
   */
  public static JsonNode readFile(Path p) {
    if (!Files.isRegularFile(p)) {
      throw new IllegalArgumentException("config file " + p + " does not exist or is not a file");
    }
    try {
      JsonNode n = JSON.readTree(Files.readString(p));
      if (n == null || !n.isObject()) {
        throw new IllegalArgumentException("config file " + p + ": expected a JSON object {\"key\": value, ...}");
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(Messages.jsonError("config file " + p, e), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read config file " + p, e);
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
