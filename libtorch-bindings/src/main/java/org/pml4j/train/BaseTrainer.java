package org.pml4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.function.LongFunction;
import java.util.zip.CRC32;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.losses.BaseMetricLossFunction;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.MetricLoss;
import org.pml4j.losses.MultipleLosses;
import org.pml4j.losses.SelfSupervisedLoss;
import org.pml4j.losses.StatefulLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.nn.Layer;
import org.pml4j.nn.Sequential;
import org.pml4j.nn.StateDicts;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Owned;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.tuples.IndicesTuple;

/**
 * What {@link MetricLossTrainer} and {@link TrainWithClassifier} share: building the encoder, loss, miner, optional
 * CrossBatchMemory, optional head and optimizer from a {@link TrainerConfig}; the step loop skeleton (validation,
 * threads, one {@link Scope} per step, zero_grad → forward → loss → backward → optimizer step); and the snapshot.
 *
 * <p><b>Construction</b> seeds LibTorch's global CPU generator with {@code config.seed()} (as a PML script calls
 * {@code torch.manual_seed}) before building the encoder, the loss (its learnable parameters) and the head, so two
 * trainers of the same config start identical; the trainer's own {@link #random()} is seeded from it too.
 * With {@code memorySize > 0} the loss (which must be one of {@link CrossBatchMemory#SUPPORTED_LOSSES}) is wrapped in a
 * CrossBatchMemory of that many slots, and the miner then runs against the memory, as PML's
 * {@code CrossBatchMemory(loss, embedding_size, memory_size, miner)}. A loss spec that is itself a CrossBatchMemory is
 * used as is.
 *
 * <p><b>Snapshot</b> format (big-endian framing):
 *
 * <pre>
 *   "PML4JCK1" · UTF kind · int n + n bytes config JSON (UTF-8) · long steps
 *   · int sections · sections × { UTF name, int n, n bytes } · long CRC32 of everything before it
 * </pre>
 *
 * Sections: {@code encoder} and {@code head} ({@link StateDicts} bytes of parameters and buffers),
 * {@code loss_parameters} (StateDicts of {@link MetricLoss#parameters()}), {@code optimizer} (LibTorch's own optimizer
 * archive: moments, momentum buffers, step counts, group options), {@code memory} (present with a CrossBatchMemory:
 * queue, labels, pointer, filled flag), {@code torch_rng} (the state of LibTorch's default CPU generator, used by
 * Dropout and random miners), {@code java_rng} (the serialized {@link #random()}). Restoring copies into the existing
 * tensors, so the optimizer keeps its parameters.
 *
 * <p><b>Device</b> ({@link TrainerConfig#device()}, config key {@code device}): on {@code cpu} (the default) nothing
 * is moved or copied. On CUDA the encoder, the head, the loss's learnable parameters (and so the optimizer's state,
 * which LibTorch makes beside them) and every batch (features and labels) live on the device; the CrossBatchMemory
 * queue follows the embeddings there. A device that this LibTorch build does not see fails at construction with an
 * {@link IllegalArgumentException} naming the key and the reason. Snapshots stay device-free: the state dicts
 * ({@code encoder}, {@code head}, {@code loss_parameters}, {@code memory}) are written from CPU copies, the config
 * without its device, and the {@code optimizer} archive (LibTorch's own, which records where its tensors were) is
 * read onto this trainer's device, as {@code map_location} does: a state trained on CUDA restores on a CPU-only machine
 * and the other way round. The {@code torch_rng} section is the CPU generator's; the CUDA generator (Dropout on the
 * device) is not in it, so only a CPU run continues bit-identically after a restore. Export and evaluation read the
 * parameters through CPU copies ({@code Tensors.toFloats}) and move their inputs to the encoder's device.
 *
 * <p>Determinism: LibTorch's CPU kernels give bit-identical results for the same inputs and the same thread count;
 * run the straight and the restored run with the same {@code threads}.
 *
 * <p>Not thread-safe (LibTorch's grad mode is thread-local): one trainer belongs to one thread at a time. The
 * default CPU generator is process-wide: two trainers stepping in one JVM share it, and a restore sets it.
 */
public abstract class BaseTrainer implements CheckpointableTrainer {
  private static final byte[] MAGIC = {'P', 'M', 'L', '4', 'J', 'C', 'K', '1'};

  protected final TrainerConfig config;
  protected final Sequential encoder;
  /** The loss as configured (the inner loss when the trainer wraps it in a CrossBatchMemory). */
  protected final MetricLoss loss;
  /** The miner run on the batch, or null (none, or owned by the CrossBatchMemory). */
  protected final BaseMiner miner;
  /** The CrossBatchMemory the loss runs in, or null. */
  protected final CrossBatchMemory memory;
  /** A layer after the encoder trained with it (the classifier of {@link TrainWithClassifier}), or null. */
  protected final Layer head;
  protected final TrainOptimizer optimizer;
  private final long[] inputShape;
  private final int inputSize;
  private Random random;
  private long steps;
  private boolean closed;
  private Thread threadsSetFor;
  private StepPhases phases;
  /** Whether the encoder or head has buffers that a forward in training mode changes. */
  private final boolean hasBuffers;
  private long skippedNonfinite;
  /** The owner of all of this trainer's native memory ({@link #close()}). */
  private final Owner natives = new Owner();
  /** Data-parallel replicas (issue 13), or null for a trainer of its own. */
  private ReplicaSync replicas;
  /** The device of the trainer's tensors, or null on the CPU (the default path: no moves, no copies). */
  private final Device device;

  /**
   * @param config the configuration (encoder required; null optimizer: Adam lr 1e-3), stored as given and written
   *     into snapshots
   * @param metricLossSpec the metric loss to build (null: TripletMarginLoss); {@code config.loss()} for a plain
   *     trainer
   * @param headFactory builds the head from the embedding size, or null for none
   * @throws IllegalArgumentException (or {@link org.pml4j.spec.SpecException}) for a bad spec or combination
   */
  protected BaseTrainer(TrainerConfig config, JsonNode metricLossSpec, LongFunction<Layer> headFactory) {
    this.config = Objects.requireNonNull(config, "config");
    if (config.encoder() == null || config.encoder().isNull()) {
      throw new IllegalArgumentException("the trainer config needs an encoder spec");
    }
    if (config.memorySize() < 0) {
      throw new IllegalArgumentException("memorySize must be >= 0, got " + config.memorySize());
    }
    Torch.ensureLoaded();
    Device d = resolveDevice(config.device());
    this.device = d == null ? null : natives.own(d); // outlives any scope the caller has open
    if (config.threads() > 0) {
      Torch.setNumThreads(config.threads());
      threadsSetFor = Thread.currentThread();
    }
    // Built in a scope: what a component keeps (modules, parameters, the queue) its owner detaches from it; the
    // temporaries of the construction (initial values, dicts) are freed at its end, not left to the garbage collector.
    try (Scope building = Scope.open()) {
      torch.manual_seed(config.seed());
      this.random = new Random(config.seed());
      this.encoder = Registry.build(config.encoder(), Sequential.class);
      long embeddingSize = encoder.embeddingSize();
      this.inputShape = encoder.inputShape();
      this.inputSize = Math.toIntExact(encoder.inputSize());
      MetricLoss built = Registry.build(Trainers.lossSpecOrDefault(metricLossSpec), MetricLoss.class);
      BaseMiner m = config.miner() == null || config.miner().isNull() ? null
          : Registry.build(config.miner(), BaseMiner.class);
      if (built instanceof CrossBatchMemory cbm) {
        if (config.memorySize() > 0) {
          throw new IllegalArgumentException("the loss is already a CrossBatchMemory; leave memorySize at 0");
        }
        if (m != null) {
          throw new IllegalArgumentException("give the miner inside the CrossBatchMemory spec, not beside it");
        }
        checkWidth(cbm.embeddingSize(), embeddingSize);
        this.memory = cbm;
        this.loss = cbm.loss();
        this.miner = null;
      } else if (config.memorySize() > 0) {
        if (!(built instanceof BaseMetricLossFunction base)) {
          throw new IllegalArgumentException("CrossBatchMemory needs a plain loss, got "
              + built.getClass().getSimpleName());
        }
        this.memory = new CrossBatchMemory(base, Math.toIntExact(embeddingSize), config.memorySize(), m);
        this.loss = base;
        this.miner = null;
      } else {
        this.memory = null;
        this.loss = built;
        this.miner = m;
      }
      if (loss instanceof StatefulLoss) {
        throw new IllegalArgumentException(loss.getClass().getSimpleName() + " keeps state between calls that pml4j "
            + "cannot checkpoint yet; it cannot be trained by a CheckpointableTrainer");
      }
      this.head = headFactory == null ? null : headFactory.apply(embeddingSize);
      if (device != null) { // before the optimizer is built over the parameters, as in PyTorch
        encoder.to(device);
        if (head != null) {
          head.to(device);
        }
        moveTo(loss.parameters(), device);
      }
      // One owner of the trainer's native memory. Adopted first, closed last: the components' owners (loss
      // parameters, the CrossBatchMemory queue, a miner's stored tuple), then the encoder and head modules; adopted
      // last, closed first: the optimizer (its state and its handles of the parameters).
      adoptComponents();
      natives.adopt(encoder::close);
      if (head != null) {
        natives.adopt(head::close);
      }
      OptimizerSpec opt = Registry.build(Trainers.optimizerSpecOrDefault(config.optimizer()), OptimizerSpec.class);
      // The parameter handles are held until the optimizer holds its own (the dicts they come from are freed with
      // the scope), so that close() can free the parameters without waiting for the garbage collector.
      try (Owner handles = new Owner()) {
        List<Tensor> params = new ArrayList<>();
        // new Tensor(p): a handle of our own (p points into the dict the scope frees)
        for (Tensor p : encoder.namedParameters().values()) {
          params.add(handles.own(new Tensor(p)));
        }
        if (head != null) {
          for (Tensor p : head.namedParameters().values()) {
            params.add(handles.own(new Tensor(p)));
          }
        }
        this.optimizer = natives.adopt(opt.build(params, new ArrayList<>(loss.parameters().values())));
      }
      this.hasBuffers = !encoder.namedBuffers().isEmpty() || (head != null && !head.namedBuffers().isEmpty());
    }
  }

  /**
   * The device a {@code device} setting names, or null for the CPU ({@code cpu}, or {@code auto} without CUDA).
   *
   * @throws IllegalArgumentException naming the key and the reason when this LibTorch build does not see the device
   */
  static Device resolveDevice(String setting) {
    if (setting.equals("cpu") || (setting.equals("auto") && !Torch.cudaAvailable())) {
      return null;
    }
    String d = setting.equals("auto") ? "cuda" : setting;
    if (!Torch.cudaAvailable()) {
      throw new IllegalArgumentException("device=" + setting + " but LibTorch sees no CUDA device (CPU-only build or "
          + "no GPU); use device=cpu, or build with the cuda Maven profile (-Pcuda) and run where an NVIDIA GPU is "
          + "visible");
    }
    try {
      return Torch.device(d);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("device=" + setting + ": " + e.getMessage(), e);
    }
  }

  /** Moves tensors to {@code d} in place (their identity, and so the handles that loss modules hold, kept). */
  private static void moveTo(Map<String, Tensor> tensors, Device d) {
    try (NoGradGuard g = new NoGradGuard()) {
      for (Tensor t : tensors.values()) {
        t.__dispatch_set_data(t.detach().to(d, t.scalar_type().intern()));
      }
    }
  }

  /**
   * The device of the trainer's tensors: {@code cpu}, or {@code cuda:N} (the resolved form of {@link
   * TrainerConfig#device()}: {@code cuda} is {@code cuda:0}, {@code auto} what it chose).
   */
  public String deviceName() {
    return device == null ? "cpu" : device.str().getString();
  }

  private static void checkWidth(long memoryWidth, long embeddingSize) {
    if (memoryWidth != embeddingSize) {
      throw new IllegalArgumentException("the CrossBatchMemory's embedding_size " + memoryWidth
          + " differs from the encoder's embedding size " + embeddingSize);
    }
  }

  /** The kind written into snapshots (the simple class name). */
  public String kind() {
    return getClass().getSimpleName();
  }

  /**
   * The loss of one batch: subclasses combine the metric loss (see {@link #metricLoss}) with their own terms.
   *
   * @param embeddings {@code [B, E]} encoder output (with grad)
   * @param labels {@code [B]} int64
   * @return the scalar to back-propagate
   */
  protected abstract Tensor computeLoss(Tensor embeddings, Tensor labels);

  /**
   * PML's MetricLossOnly part: miner then loss, or the CrossBatchMemory (with its miner) when there is one. Public so
   * that a benchmark can time the loss alone on given embeddings; a CrossBatchMemory enqueues them.
   *
   * @param embeddings {@code [B, E]} embeddings (with grad to back-propagate)
   * @param labels {@code [B]} int64
   * @return the scalar loss
   */
  public final Tensor metricLoss(Tensor embeddings, Tensor labels) {
    if (replicas != null) {
      Tensor l = replicas.metricLoss(memory != null ? memory : loss, memory != null ? null : miner, embeddings, labels);
      mark(StepPhases.Phase.LOSS);
      return l;
    }
    if (memory != null) {
      Tensor l = memory.forward(embeddings, labels);
      mark(StepPhases.Phase.LOSS);
      return l;
    }
    IndicesTuple tuple = miner == null ? null : miner.forward(embeddings, labels);
    mark(StepPhases.Phase.MINER);
    Tensor l = loss.forward(embeddings, labels, tuple, null, null);
    mark(StepPhases.Phase.LOSS);
    return l;
  }

  /**
   * Makes this trainer one replica of data-parallel training (null: train alone again): {@link #trainStep} then
   * computes the metric loss across the replicas, skips a step only when every replica agrees, and averages the
   * gradients before the optimizer step. The caller makes the replicas' parameters equal first (a broadcast).
   */
  public void setReplicaSync(ReplicaSync sync) {
    this.replicas = sync;
    if (sync instanceof AutoCloseable c) {
      natives.adopt(c); // its native handles go with this trainer's
    }
  }

  /** The replica sync, or null. */
  public ReplicaSync replicaSync() {
    return replicas;
  }

  /**
   * Records the wall time of every following step by phase into {@code p} (null: stop recording). Costs two clock
   * reads per phase.
   */
  public void setPhaseTimes(StepPhases p) {
    this.phases = p;
  }

  /** The phase recorder, or null. */
  public StepPhases phaseTimes() {
    return phases;
  }

  private void mark(StepPhases.Phase p) {
    if (phases != null) {
      phases.mark(p);
    }
  }

  /** Extra checks of a batch's labels (TrainWithClassifier: within the classifier's classes). */
  protected void checkLabels(long[] labels) {}

  /**
   * {@inheritDoc}
   *
   * <p><b>Non-finite guard.</b> A step whose encoder output, loss or gradient is not finite (an input of huge but
   * finite values overflows float32 in the encoder, a loss divides by zero, a backward overflows) is skipped: the
   * optimizer does not step, so parameters and optimizer moments keep their values bit for bit; the encoder's
   * buffers (BatchNorm running statistics, updated by the forward) are put back; the CrossBatchMemory's queue,
   * labels, pointer and filled flag are put back (the memory enqueues inside the loss, so the slots that the batch
   * will overwrite are copied before the loss runs: a copy of B rows, not of the memory). The step counter does not
   * advance, {@link #skippedNonfinite()} does, and the result says why ({@link StepResult#skipped()}). No exception:
   * one bad batch must not stop a long-running job.
   */
  @Override
  public StepResult trainStep(float[][] features, long[] labels) {
    requireOpen();
    float[] flat = flatten(features, labels);
    checkLabels(labels);
    if (config.threads() > 0 && threadsSetFor != Thread.currentThread()) {
      Torch.setNumThreads(config.threads());
      threadsSetFor = Thread.currentThread();
    }
    int b = labels.length;
    double value = Double.NaN;
    String skipped = null;
    StepPhases ph = phases;
    if (ph != null) {
      ph.start();
    }
    try (Scope s = Scope.open()) {
      long[] shape = new long[inputShape.length + 1];
      shape[0] = b;
      System.arraycopy(inputShape, 0, shape, 1, inputShape.length);
      Tensor x = Tensor.create(flat, shape);
      Tensor y = Tensors.longs(labels);
      if (device != null) {
        x = x.to(device, x.scalar_type().intern());
        y = y.to(device, y.scalar_type().intern());
      }
      encoder.train(true);
      if (head != null) {
        head.train(true);
      }
      List<Tensor[]> buffers = hasBuffers ? backupBuffers() : List.of();
      mark(StepPhases.Phase.OTHER);
      optimizer.zeroGrad();
      mark(StepPhases.Phase.OPTIMIZER);
      Tensor embeddings = encoder.forward(x);
      mark(StepPhases.Phase.ENCODER_FORWARD);
      boolean finite = allFinite(embeddings);
      if (replicas != null && !replicas.beginStep(embeddings, finite)) {
        skipped = finite ? "non-finite encoder output on another replica"
            : "non-finite encoder output in " + nonFiniteRows(embeddings) + " of " + b + " rows";
      } else if (!finite) {
        skipped = "non-finite encoder output in " + nonFiniteRows(embeddings) + " of " + b + " rows";
      } else {
        // With replicas, the memory enqueues every replica's rows (b per replica).
        CrossBatchMemory.EnqueueMark queue = memory == null ? null
            : memory.markEnqueue(replicas == null ? b : b * replicas.worldSize());
        Tensor total = computeLoss(embeddings, y);
        mark(StepPhases.Phase.LOSS);
        value = total.item_double();
        boolean lossFinite = Double.isFinite(value);
        if (lossFinite) {
          total.backward();
        }
        // With replicas, one collective averages the gradients and agrees on the loss being finite everywhere.
        if (replicas != null ? !replicas.afterBackward(lossFinite) : !lossFinite) {
          skipped = "non-finite loss " + value + (lossFinite ? " on another replica" : "");
          mark(StepPhases.Phase.BACKWARD);
        } else {
          mark(StepPhases.Phase.BACKWARD);
          String bad = nonFiniteGradient();
          if (bad != null) {
            skipped = "non-finite gradient of " + bad;
          } else {
            optimizer.step();
            mark(StepPhases.Phase.OPTIMIZER);
          }
        }
        if (skipped != null && queue != null) {
          memory.undoEnqueue(queue);
        }
      }
      if (skipped != null) {
        restoreBuffers(buffers);
        optimizer.zeroGrad();
      }
    }
    if (ph != null) {
      ph.mark(StepPhases.Phase.OTHER);
      ph.stepDone();
    }
    if (skipped != null) {
      skippedNonfinite++;
      return new StepResult(steps, value, b, queueFill(), skipped);
    }
    steps++;
    return new StepResult(steps, value, b, queueFill());
  }

  /** Steps skipped by the non-finite guard since this trainer was built (not part of the snapshot). */
  public long skippedNonfinite() {
    return skippedNonfinite;
  }

  private static boolean allFinite(Tensor t) {
    return t.detach().isfinite().all().item_bool();
  }

  private static long nonFiniteRows(Tensor t) {
    return t.detach().isfinite().all(1).logical_not().sum().item_long();
  }

  /**
   * The name of the first parameter whose gradient is not finite, or null when all are (one sync in all). The
   * handles are fetched per step, inside the step's scope.
   */
  private String nonFiniteGradient() {
    Map<String, Tensor> named = trainableNames();
    Tensor ok = null;
    for (Tensor p : named.values()) {
      Tensor g = p.grad();
      if (g == null || !g.defined()) {
        continue;
      }
      Tensor f = g.isfinite().all();
      ok = ok == null ? f : ok.logical_and(f);
    }
    if (ok == null || ok.item_bool()) {
      return null;
    }
    for (Map.Entry<String, Tensor> e : named.entrySet()) {
      Tensor g = e.getValue().grad();
      if (g != null && g.defined() && !g.isfinite().all().item_bool()) {
        return e.getKey();
      }
    }
    return "a parameter";
  }

  private Map<String, Tensor> trainableNames() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    encoder.namedParameters().forEach((k, v) -> m.put("encoder." + k, v));
    if (head != null) {
      head.namedParameters().forEach((k, v) -> m.put("head." + k, v));
    }
    loss.parameters().forEach((k, v) -> m.put("loss." + k, v));
    return m;
  }

  /** Copies of the encoder's and head's buffers (BatchNorm running statistics): {live, copy} pairs. */
  private List<Tensor[]> backupBuffers() {
    List<Tensor[]> out = new ArrayList<>();
    List<Map<String, Tensor>> maps = new ArrayList<>(List.of(encoder.namedBuffers()));
    if (head != null) {
      maps.add(head.namedBuffers());
    }
    for (Map<String, Tensor> m : maps) {
      for (Tensor t : m.values()) {
        out.add(new Tensor[] {t, t.detach().clone()});
      }
    }
    return out;
  }

  private static void restoreBuffers(List<Tensor[]> buffers) {
    if (buffers.isEmpty()) {
      return;
    }
    try (NoGradGuard g = new NoGradGuard()) {
      for (Tensor[] b : buffers) {
        b[0].copy_(b[1]);
      }
    }
  }

  private float[] flatten(float[][] features, long[] labels) {
    if (features == null || labels == null) {
      throw new IllegalArgumentException("features and labels are required");
    }
    if (features.length != labels.length) {
      throw new IllegalArgumentException("label count mismatch: " + features.length + " rows but " + labels.length
          + " labels");
    }
    if (features.length == 0) {
      throw new IllegalArgumentException("empty batch");
    }
    float[] flat = new float[Math.multiplyExact(features.length, inputSize)];
    for (int i = 0; i < features.length; i++) {
      float[] row = features[i];
      if (row == null || row.length != inputSize) {
        throw new IllegalArgumentException("row " + i + " has " + (row == null ? "no" : row.length)
            + " values; the encoder takes " + inputSize + " (input shape " + Arrays.toString(inputShape) + ")");
      }
      for (int j = 0; j < row.length; j++) {
        if (!Float.isFinite(row[j])) {
          throw new IllegalArgumentException("non-finite value " + row[j] + " at row " + i + ", column " + j);
        }
      }
      System.arraycopy(row, 0, flat, i * inputSize, inputSize);
    }
    return flat;
  }

  /** Filled slots of the CrossBatchMemory, or 0 without one. */
  public long queueFill() {
    return memory == null ? 0 : memory.hasBeenFilled() ? memory.memorySize() : memory.queueIdx();
  }

  @Override
  public long steps() {
    return steps;
  }

  @Override
  public Sequential encoder() {
    return encoder;
  }

  @Override
  public TrainerConfig config() {
    return config;
  }

  /** The configured loss (the inner loss when a CrossBatchMemory wraps it). */
  public MetricLoss loss() {
    return loss;
  }

  /** The CrossBatchMemory, or null. */
  public CrossBatchMemory memory() {
    return memory;
  }

  /** The optimizer. */
  public TrainOptimizer optimizer() {
    return optimizer;
  }

  /**
   * The trainer's Java random source, seeded from {@code config.seed()} and part of the snapshot: use it for anything
   * random on the caller's side that must continue identically after a restore (batch sampling). A restore replaces
   * the instance, so ask for it again afterwards.
   */
  public Random random() {
    return random;
  }

  // ------------------------------------------------------------------------------------------ snapshot / restore

  @Override
  public byte[] snapshot() {
    requireOpen();
    Map<String, byte[]> sections = new LinkedHashMap<>();
    sections.put("encoder", encoder.saveState());
    if (head != null) {
      sections.put("head", head.saveState());
    }
    sections.put("loss_parameters", StateDicts.save(loss.parameters()));
    sections.put("optimizer", optimizer.saveState());
    if (memory != null) {
      sections.put("memory", memoryState());
    }
    sections.put("torch_rng", torchRngState());
    sections.put("java_rng", javaRngState());
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.write(MAGIC);
      out.writeUTF(kind());
      // Device-free: a snapshot restores on any device (see the class comment).
      byte[] json = Trainers.toJson(config.onCpu() ? config : config.withDevice("cpu")).toString()
          .getBytes(StandardCharsets.UTF_8);
      out.writeInt(json.length);
      out.write(json);
      out.writeLong(steps);
      out.writeInt(sections.size());
      for (Map.Entry<String, byte[]> e : sections.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeInt(e.getValue().length);
        out.write(e.getValue());
      }
      out.flush();
      CRC32 crc = new CRC32();
      crc.update(bytes.toByteArray());
      out.writeLong(crc.getValue());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bytes.toByteArray();
  }

  private byte[] memoryState() {
    try (Scope s = Scope.open()) {
      Map<String, Object> snap = memory.stateSnapshot();
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      tensors.put("embedding_memory", (Tensor) snap.get("embedding_memory"));
      tensors.put("label_memory", (Tensor) snap.get("label_memory"));
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        out.writeLong((Long) snap.get("queue_idx"));
        out.writeBoolean((Boolean) snap.get("has_been_filled"));
        out.write(StateDicts.save(tensors));
      }
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] torchRngState() {
    try (Scope s = Scope.open()) {
      Generator g = torch.getDefaultCPUGenerator();
      return StateDicts.save(Map.of("state", g.get_state()));
    }
  }

  private byte[] javaRngState() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(random);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bytes.toByteArray();
  }

  /** A parsed snapshot: kind, config, steps and sections (checksum verified). */
  record Parsed(String kind, JsonNode config, long steps, Map<String, byte[]> sections) {}

  /**
   * Parses snapshot bytes (no trainer needed).
   *
   * @throws IllegalArgumentException for bytes that are not an intact pml4j trainer snapshot
   */
  static Parsed parse(byte[] state) {
    if (state == null || state.length < MAGIC.length + 8) {
      throw new IllegalArgumentException("not a pml4j trainer snapshot (too short)");
    }
    if (!Arrays.equals(Arrays.copyOf(state, MAGIC.length), MAGIC)) {
      throw new IllegalArgumentException("not a pml4j trainer snapshot (bad magic)");
    }
    CRC32 crc = new CRC32();
    crc.update(state, 0, state.length - 8);
    long stored = 0;
    for (int i = state.length - 8; i < state.length; i++) {
      stored = (stored << 8) | (state[i] & 0xff);
    }
    if (stored != crc.getValue()) {
      throw new IllegalArgumentException("corrupt pml4j trainer snapshot (checksum mismatch)");
    }
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state, 0, state.length - 8))) {
      in.skipNBytes(MAGIC.length);
      String kind = in.readUTF();
      byte[] json = new byte[in.readInt()];
      in.readFully(json);
      JsonNode config = Trainers.JSON.readTree(json);
      long steps = in.readLong();
      int count = in.readInt();
      Map<String, byte[]> sections = new LinkedHashMap<>();
      for (int i = 0; i < count; i++) {
        String name = in.readUTF();
        byte[] body = new byte[in.readInt()];
        in.readFully(body);
        sections.put(name, body);
      }
      if (in.available() > 0) {
        throw new IllegalArgumentException("pml4j trainer snapshot has " + in.available() + " trailing bytes");
      }
      return new Parsed(kind, config, steps, sections);
    } catch (IOException | RuntimeException e) {
      if (e instanceof IllegalArgumentException iae) {
        throw iae;
      }
      throw new IllegalArgumentException("truncated or corrupt pml4j trainer snapshot: " + e, e);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Every section is parsed and checked against this trainer (kind, config, names, shapes, dtypes, checksum)
   * before anything changes, so a rejected snapshot leaves the trainer as it was (LibTorch checks the optimizer archive
   * only while loading it, which happens first).
   */
  @Override
  public void restore(byte[] state) {
    requireOpen();
    Parsed p = parse(state);
    if (!p.kind().equals(kind())) {
      throw new IllegalArgumentException("snapshot of a " + p.kind() + ", not of a " + kind());
    }
    TrainerConfig saved = Trainers.configFromJson(p.config());
    String mismatch = Trainers.incompatibility(saved, config);
    if (mismatch != null) {
      throw new IllegalArgumentException("snapshot does not fit this trainer's configuration: " + mismatch);
    }
    List<String> required = new ArrayList<>(List.of("encoder", "loss_parameters", "optimizer", "torch_rng",
        "java_rng"));
    if (head != null) {
      required.add("head");
    }
    if (memory != null) {
      required.add("memory");
    }
    for (String r : required) {
      if (!p.sections().containsKey(r)) {
        throw new IllegalArgumentException("snapshot lacks its '" + r + "' section");
      }
    }
    // Parse and check everything that can fail before changing anything; the optimizer (whose archive LibTorch checks
    // only while loading it) goes first.
    Random rng = readRandom(p.sections().get("java_rng"));
    try (Scope s = Scope.open()) {
      Tensor rngState = StateDicts.read(p.sections().get("torch_rng")).get("state");
      if (rngState == null) {
        throw new IllegalArgumentException("snapshot's torch_rng section has no 'state'");
      }
      checkFits("encoder", encoder.stateDict(), p.sections().get("encoder"));
      if (head != null) {
        checkFits("head", head.stateDict(), p.sections().get("head"));
      }
      checkFits("loss_parameters", loss.parameters(), p.sections().get("loss_parameters"));
      MemoryState mem = memory == null ? null : readMemory(p.sections().get("memory"));
      if (mem != null && (mem.embeddings.size(0) != memory.memorySize()
          || mem.embeddings.size(1) != memory.embeddingSize() || mem.queueIdx < 0
          || mem.queueIdx >= memory.memorySize())) {
        throw new IllegalArgumentException("snapshot's memory does not fit this CrossBatchMemory");
      }
      // Onto this trainer's device whatever device wrote it (the CPU too: an archive written on CUDA records CUDA).
      optimizer.loadState(p.sections().get("optimizer"),
          device != null ? device : new Device(torch.DeviceType.CPU, (byte) -1));
      encoder.loadState(p.sections().get("encoder"));
      if (head != null) {
        head.loadState(p.sections().get("head"));
      }
      StateDicts.load(loss.parameters(), p.sections().get("loss_parameters"));
      if (mem != null) {
        memory.restoreState(mem.embeddings, mem.labels, mem.queueIdx, mem.filled);
      }
      try {
        torch.getDefaultCPUGenerator().set_state(rngState);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("LibTorch rejected the generator state: " + e.getMessage(), e);
      }
    }
    this.random = rng;
    this.steps = p.steps();
  }

  /** Names, shapes and dtypes of a saved state dict must be those of {@code targets}. */
  private static void checkFits(String section, Map<String, Tensor> targets, byte[] saved) {
    Map<String, Tensor> got = StateDicts.read(saved);
    if (!got.keySet().equals(targets.keySet())) {
      throw new IllegalArgumentException("snapshot's " + section + " holds " + got.keySet() + ", expected "
          + targets.keySet());
    }
    for (Map.Entry<String, Tensor> e : targets.entrySet()) {
      Tensor g = got.get(e.getKey());
      if (!Arrays.equals(Tensors.shape(g), Tensors.shape(e.getValue()))
          || Tensors.dtype(g) != Tensors.dtype(e.getValue())) {
        throw new IllegalArgumentException("snapshot's " + section + " entry '" + e.getKey() + "' is "
            + Tensors.dtype(g) + Tensors.shapeString(g) + ", expected " + Tensors.dtype(e.getValue())
            + Tensors.shapeString(e.getValue()));
      }
    }
  }

  private record MemoryState(Tensor embeddings, Tensor labels, long queueIdx, boolean filled) {}

  private static MemoryState readMemory(byte[] body) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(body))) {
      long idx = in.readLong();
      boolean filled = in.readBoolean();
      Map<String, Tensor> t = StateDicts.read(in.readAllBytes());
      if (!t.containsKey("embedding_memory") || !t.containsKey("label_memory")) {
        throw new IllegalArgumentException("snapshot's memory section lacks the queue tensors");
      }
      return new MemoryState(t.get("embedding_memory"), t.get("label_memory"), idx, filled);
    } catch (IOException e) {
      throw new IllegalArgumentException("corrupt memory section: " + e, e);
    }
  }

  private static Random readRandom(byte[] body) {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(body)) {
      @Override
      protected Class<?> resolveClass(java.io.ObjectStreamClass desc) throws IOException, ClassNotFoundException {
        if (!desc.getName().equals(Random.class.getName())) {
          throw new java.io.InvalidClassException(desc.getName(), "only java.util.Random is accepted");
        }
        return super.resolveClass(desc);
      }
    }) {
      return (Random) in.readObject();
    } catch (IOException | ClassNotFoundException | ClassCastException e) {
      throw new IllegalArgumentException("corrupt java_rng section: " + e, e);
    }
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException(kind() + " is closed");
    }
  }

  /**
   * Frees the trainer's native memory now: the optimizer state (moments, momentum buffers), the encoder's and head's
   * modules (parameters, buffers, gradients), the loss's learnable parameters and the CrossBatchMemory queue. The
   * trainer, its encoder and its loss cannot be used afterwards; tensors and bytes handed out earlier (snapshots,
   * exports) stay valid. Idempotent.
   */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      natives.close();
    }
  }

  /**
   * Adopts the owners of the loss, the miner, the CrossBatchMemory and what they are built from
   * ({@link MultipleLosses}, {@link SelfSupervisedLoss}), and, as a last resort, every loss parameter that none of
   * them holds (a loss of another kind), so that {@link #close()} frees them all.
   */
  private void adoptComponents() {
    List<Owner> owners = new ArrayList<>();
    collectOwners(memory, owners);
    collectOwners(loss, owners);
    collectOwners(miner, owners);
    owners.forEach(natives::adopt);
    for (Tensor p : loss.parameters().values()) {
      if (owners.stream().noneMatch(o -> o.holds(p))) {
        natives.own(p);
      }
    }
  }

  private static void collectOwners(Object component, List<Owner> out) {
    if (component == null) {
      return;
    }
    if (component instanceof Owned o && out.stream().noneMatch(x -> x == o.natives())) {
      out.add(o.natives());
    }
    if (component instanceof CrossBatchMemory c) {
      collectOwners(c.loss(), out);
      collectOwners(c.miner(), out);
    } else if (component instanceof MultipleLosses m) {
      m.losses().values().forEach(l -> collectOwners(l, out));
      if (m.miners() != null) {
        m.miners().values().forEach(l -> collectOwners(l, out));
      }
    } else if (component instanceof SelfSupervisedLoss s) {
      collectOwners(s.loss(), out);
    }
  }
}
