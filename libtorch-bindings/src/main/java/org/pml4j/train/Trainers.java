package org.pml4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Objects;
import org.pml4j.torch.Torch;

/**
 * Builds trainers: {@link #fromConfig(TrainerConfig)} picks the trainer from the config, {@link #fromSnapshot(byte[])}
 * rebuilds one from a snapshot alone (the snapshot carries its config); plus the defaults and the config's JSON form.
 *
 * <p>The one codec of {@link TrainerConfig} ({@link #toJson}, {@link #configFromJson}): snapshots, the CLI, config
 * files and the streaming job all read and write configs through it, and each default is stated once, here (a spec
 * is a {@code {"class", "params"}} object or a class name):
 *
 * <pre>{@code
 * {"encoder": {"class": "Sequential", ...},          required
 *  "loss": {"class": "TripletMarginLoss"},           absent or null: DEFAULT_LOSS (applied by the trainer)
 *  "miner": null,                                    absent or null: no miner
 *  "optimizer": {"class": "Adam", "params": {...}},  absent or null: DEFAULT_OPTIMIZER (applied by the trainer)
 *  "memory_size": 0, "seed": 0, "threads": 0,       DEFAULT_MEMORY_SIZE, DEFAULT_SEED, DEFAULT_THREADS
 *  "device": "cpu"}                                  DEFAULT_DEVICE; cpu, cuda, cuda:N or auto
 *                                                    (written only when not cpu)
 * }</pre>
 */
public final class Trainers {
  static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** {@code TripletMarginLoss} with PML's defaults. */
  public static final String DEFAULT_LOSS = "{\"class\": \"TripletMarginLoss\"}";
  /** {@code MultiSimilarityMiner} with PML's defaults. */
  public static final String DEFAULT_MINER = "{\"class\": \"MultiSimilarityMiner\"}";
  /** Adam, lr 1e-3. */
  public static final String DEFAULT_OPTIMIZER = "{\"class\": \"Adam\", \"params\": {\"lr\": 0.001}}";
  /** No CrossBatchMemory. */
  public static final int DEFAULT_MEMORY_SIZE = 0;
  /** Seed 0. */
  public static final long DEFAULT_SEED = 0;
  /** 0: the trainer leaves its thread's ATen/OpenBLAS thread count as it is (the Flink operator then uses 1). */
  public static final int DEFAULT_THREADS = 0;
  /** cpu: the trainer's tensors stay in main memory (see {@link TrainerConfig#device()}). */
  public static final String DEFAULT_DEVICE = "cpu";
  /** The keys of a config's JSON form. */
  static final java.util.List<String> KEYS =
      java.util.List.of("encoder", "loss", "miner", "optimizer", "memory_size", "seed", "threads", "device");

  private Trainers() {}

  /**
   * The trainer a config describes: a {@link TrainWithClassifier} when its loss spec is the
   * {@code {"class": "TrainWithClassifier", ...}} wrapper, otherwise a {@link MetricLossTrainer}.
   *
   * @throws IllegalArgumentException (or {@link org.pml4j.spec.SpecException}) for a bad config
   */
  public static BaseTrainer fromConfig(TrainerConfig config) {
    Objects.requireNonNull(config, "config");
    return TrainWithClassifier.isWrapper(config.loss()) ? new TrainWithClassifier(config)
        : new MetricLossTrainer(config);
  }

  /**
   * Rebuilds the trainer a snapshot was taken from (its config is inside) and restores it, on the CPU (a snapshot
   * holds no device: see {@link #fromSnapshot(byte[], String)}).
   *
   * @throws IllegalArgumentException for bytes that are not an intact snapshot
   */
  public static BaseTrainer fromSnapshot(byte[] snapshot) {
    return fromSnapshot(snapshot, null);
  }

  /**
   * Rebuilds the trainer a snapshot was taken from and restores it on {@code device} (null: the snapshot config's,
   * which is cpu: snapshots are written device-free, so a state trained on CUDA restores on a CPU-only machine and
   * the other way round).
   *
   * @throws IllegalArgumentException for bytes that are not an intact snapshot, or a device that is not available
   */
  public static BaseTrainer fromSnapshot(byte[] snapshot, String device) {
    BaseTrainer.Parsed p = BaseTrainer.parse(snapshot);
    TrainerConfig config = configFromJson(p.config());
    if (device != null) {
      config = config.withDevice(device);
    }
    BaseTrainer t = fromConfig(config);
    if (!t.kind().equals(p.kind())) {
      t.close();
      throw new IllegalArgumentException("snapshot of a " + p.kind() + " whose config builds a " + t.kind());
    }
    try {
      t.restore(snapshot);
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
    return t;
  }

  /** The config stored in a snapshot, without building anything. */
  public static TrainerConfig configOf(byte[] snapshot) {
    return configFromJson(BaseTrainer.parse(snapshot).config());
  }

  /** The step counter stored in a snapshot. */
  public static long stepsOf(byte[] snapshot) {
    return BaseTrainer.parse(snapshot).steps();
  }

  /**
   * The default encoder: {@code Linear(inputSize, 512) → ReLU → Linear(512, 128) → L2Normalize}.
   */
  public static ObjectNode defaultEncoder(int inputSize) {
    return defaultEncoder(inputSize, 512, 128);
  }

  /** An MLP {@code Linear(inputSize, hidden) → ReLU → Linear(hidden, embedding) → L2Normalize}. */
  public static ObjectNode defaultEncoder(int inputSize, int hidden, int embedding) {
    try {
      return (ObjectNode) JSON.readTree("{\"class\": \"Sequential\", \"params\": {\"layers\": ["
          + "{\"class\": \"Linear\", \"params\": {\"in_features\": " + inputSize + ", \"out_features\": " + hidden
          + "}}, {\"class\": \"ReLU\"}, {\"class\": \"Linear\", \"params\": {\"in_features\": " + hidden
          + ", \"out_features\": " + embedding + "}}, {\"class\": \"L2Normalize\"}]}}");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The config as JSON: {@code {"encoder", "loss", "miner", "optimizer", "memory_size", "seed", "threads"}}, plus
   * {@code "device"} when it is not {@link #DEFAULT_DEVICE} (so a CPU config's JSON is what it was before the key).
   */
  public static ObjectNode toJson(TrainerConfig c) {
    ObjectNode n = JSON.createObjectNode();
    n.set("encoder", orNull(c.encoder()));
    n.set("loss", orNull(c.loss()));
    n.set("miner", orNull(c.miner()));
    n.set("optimizer", orNull(c.optimizer()));
    n.put("memory_size", c.memorySize());
    n.put("seed", c.seed());
    n.put("threads", c.threads());
    if (!c.onCpu()) {
      n.put("device", c.device());
    }
    return n;
  }

  /**
   * The config from its JSON form ({@link #toJson}): {@code encoder} is required; absent or null {@code loss},
   * {@code miner}, {@code optimizer} are null (the trainer's defaults {@link #DEFAULT_LOSS}, no miner,
   * {@link #DEFAULT_OPTIMIZER}); absent numbers take {@link #DEFAULT_MEMORY_SIZE}, {@link #DEFAULT_SEED},
   * {@link #DEFAULT_THREADS}; an absent {@code device} is {@link #DEFAULT_DEVICE}.
   *
   * @throws IllegalArgumentException for a missing encoder, unknown keys, wrong types or a device not of the form
   *     {@link TrainerConfig#DEVICES}
   */
  public static TrainerConfig configFromJson(JsonNode n) {
    if (n == null || !n.isObject()) {
      throw new IllegalArgumentException("a trainer config is a JSON object, got " + n);
    }
    n.fieldNames().forEachRemaining(f -> {
      if (!KEYS.contains(f)) {
        throw new IllegalArgumentException("unknown trainer config key '" + f + "'; valid keys are " + KEYS);
      }
    });
    if (spec(n.get("encoder")) == null) {
      throw new IllegalArgumentException("trainer config needs 'encoder' (a Sequential spec)");
    }
    for (String k : new String[] {"memory_size", "seed", "threads"}) {
      if (n.has(k) && !n.get(k).isIntegralNumber()) {
        throw new IllegalArgumentException("trainer config '" + k + "' must be an integer, got " + n.get(k));
      }
    }
    JsonNode device = n.get("device");
    if (device != null && !device.isNull() && !device.isTextual()) {
      throw new IllegalArgumentException("trainer config 'device' must be a string (" + TrainerConfig.DEVICES
          + "), got " + device);
    }
    return new TrainerConfig(spec(n.get("encoder")), spec(n.get("loss")), spec(n.get("miner")),
        spec(n.get("optimizer")), n.path("memory_size").asInt(DEFAULT_MEMORY_SIZE), n.path("seed").asLong(DEFAULT_SEED),
        n.path("threads").asInt(DEFAULT_THREADS), device == null || device.isNull() ? null : device.textValue());
  }

  /**
   * The config from JSON text.
   *
   * @throws IllegalArgumentException for text that is not JSON, or as {@link #configFromJson(JsonNode)}
   */
  public static TrainerConfig configFromJson(String json) {
    return configFromJson(parse(json));
  }

  /** A copy of the config with another loss spec. */
  public static TrainerConfig withLoss(TrainerConfig c, JsonNode loss) {
    return new TrainerConfig(c.encoder(), loss, c.miner(), c.optimizer(), c.memorySize(), c.seed(), c.threads(),
        c.device());
  }

  /**
   * Checks that LibTorch sees the device a {@code device} setting names ({@code cpu} and {@code auto} always pass),
   * without building a trainer.
   *
   * @throws IllegalArgumentException naming the key and the reason (a CPU-only build, no GPU, an index beyond the
   *     GPUs), or the allowed values for a setting of another form
   */
  public static void checkDevice(String device) {
    String d = TrainerConfig.normalizeDevice(device);
    if (!d.equals("cpu") && !d.equals("auto")) {
      Torch.ensureLoaded();
      org.bytedeco.pytorch.Device resolved = BaseTrainer.resolveDevice(d);
      if (resolved != null) {
        resolved.close();
      }
    }
  }

  /**
   * The config of data-parallel replica {@code rank}: with {@code device} {@code cuda} (or {@code auto} where CUDA is
   * available) the replica takes {@code cuda:(rank % devices)}, so the replicas of one host spread over its GPUs
   * (and NCCL, which needs one GPU per rank, gets distinct ones when there are enough); {@code cuda:N} and
   * {@code cpu} are kept as given.
   */
  public static TrainerConfig forRank(TrainerConfig c, int rank) {
    if (rank < 0) {
      throw new IllegalArgumentException("rank must be >= 0, got " + rank);
    }
    boolean spread = c.device().equals("cuda") || (c.device().equals("auto") && Torch.cudaAvailable());
    if (!spread) {
      return c.device().equals("auto") ? c.withDevice("cpu") : c;
    }
    int count = Torch.cudaDeviceCount();
    if (count == 0) {
      return c; // the trainer then refuses the device with the reason
    }
    return c.withDevice("cuda:" + (rank % count));
  }

  /**
   * Why a snapshot taken under {@code saved} cannot be restored into a trainer of {@code current}, or null when it
   * can: the specs and the memory size must agree; seed, threads and device may differ.
   */
  static String incompatibility(TrainerConfig saved, TrainerConfig current) {
    String[] names = {"encoder", "loss", "miner", "optimizer"};
    JsonNode[] a = {saved.encoder(), lossSpecOrDefault(saved.loss()), saved.miner(),
        optimizerSpecOrDefault(saved.optimizer())};
    JsonNode[] b = {current.encoder(), lossSpecOrDefault(current.loss()), current.miner(),
        optimizerSpecOrDefault(current.optimizer())};
    for (int i = 0; i < names.length; i++) {
      if (!orNull(a[i]).equals(orNull(b[i]))) {
        return names[i] + " spec differs: snapshot " + orNull(a[i]) + ", trainer " + orNull(b[i]);
      }
    }
    if (saved.memorySize() != current.memorySize()) {
      return "memory size differs: snapshot " + saved.memorySize() + ", trainer " + current.memorySize();
    }
    return null;
  }

  static JsonNode lossSpecOrDefault(JsonNode loss) {
    return loss == null || loss.isNull() ? parse(DEFAULT_LOSS) : loss;
  }

  static JsonNode optimizerSpecOrDefault(JsonNode opt) {
    return opt == null || opt.isNull() ? parse(DEFAULT_OPTIMIZER) : opt;
  }

  /** Parses spec JSON text. */
  public static JsonNode parse(String json) {
    try {
      return JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
    }
  }

  private static JsonNode spec(JsonNode n) {
    return n == null || n.isNull() || n.isMissingNode() ? null : n;
  }

  private static JsonNode orNull(JsonNode n) {
    return n == null ? NullNode.getInstance() : n;
  }
}
