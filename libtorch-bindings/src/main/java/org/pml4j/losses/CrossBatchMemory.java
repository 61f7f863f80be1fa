package org.pml4j.losses;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.miners.BaseMiner;
import org.pml4j.spec.Params;
import org.pml4j.torch.Owned;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;
import org.pml4j.validation.Checks;

/**
 * PML's {@code CrossBatchMemory}: a ring buffer of past embeddings and labels used as the reference set of an inner
 * loss, so each batch is compared with up to {@code memorySize} earlier samples.
 *
 * <p>Per call: (1) the batch (or the rows of {@code enqueueMask}) is written, detached, at the queue pointer;
 * (2) the reference is the filled prefix of the memory until it first wraps, then the whole memory; (3) tuples come
 * from the miner against the memory, or all pairs; (4) self-comparisons are removed when no enqueue mask is given;
 * (5) the inner loss runs with the memory as {@code ref_emb}. A user {@code indicesTuple} is converted to the
 * miner's format and concatenated as is, so its positive/negative indices address memory slots (as in PML).
 *
 * <p>Beyond PML: {@link #withWarmUp(int)} makes the first K calls use only the current batch (no memory negatives),
 * default off.
 *
 * <p>Without a miner and a tuple, a {@link GenericPairLoss} whose {@link GenericPairLoss#denseApplies()} holds runs
 * its dense path against the memory (no pair index tensors; the batch's own slots are masked out of the positives):
 * same values and gradients as PML's indexed pairs.
 */
public class CrossBatchMemory implements MetricLoss, StatefulLoss, Owned {
  /** The inner losses PML supports. */
  public static final List<String> SUPPORTED_LOSSES = List.of("AngularLoss", "CircleLoss", "ContrastiveLoss",
      "GeneralizedLiftedStructureLoss", "IntraPairVarianceLoss", "LiftedStructureLoss", "MarginLoss",
      "MultiSimilarityLoss", "NCALoss", "NTXentLoss", "SignalToNoiseRatioContrastiveLoss", "SupConLoss",
      "TripletMarginLoss", "TupletMarginLoss");

  private final BaseMetricLossFunction loss;
  private final int embeddingSize;
  private final int memorySize;
  private final BaseMiner miner;
  private int warmUpSteps = DEFAULT_WARM_UP;

  private Tensor embeddingMemory;
  private Tensor labelMemory;
  private long queueIdx;
  private boolean hasBeenFilled;
  private long calls;

  /** PML's default {@code memory_size}: slots in the queue. */
  public static final int DEFAULT_MEMORY_SIZE = 1024;
  /** Default {@code warm_up} steps: none, PML's behaviour (see {@link #withWarmUp(int)}). */
  public static final int DEFAULT_WARM_UP = 0;

  /** PML's defaults: {@link #DEFAULT_MEMORY_SIZE}, no miner; {@link #DEFAULT_WARM_UP}. */
  public CrossBatchMemory(BaseMetricLossFunction loss, int embeddingSize) {
    this(loss, embeddingSize, DEFAULT_MEMORY_SIZE, null);
  }

  /**
   * @param loss the inner loss, one of {@link #SUPPORTED_LOSSES}
   * @param embeddingSize width of the embeddings
   * @param memorySize number of slots in the queue
   * @param miner optional miner run against the memory
   * @throws IllegalArgumentException for an unsupported loss or non-positive sizes
   */
  public CrossBatchMemory(BaseMetricLossFunction loss, int embeddingSize, int memorySize, BaseMiner miner) {
    this.loss = Objects.requireNonNull(loss, "loss");
    String name = loss.getClass().getSimpleName();
    if (!SUPPORTED_LOSSES.contains(name)) {
      throw new IllegalArgumentException("CrossBatchMemory not supported for " + name + "; supported: "
          + SUPPORTED_LOSSES);
    }
    if (embeddingSize < 1 || memorySize < 1) {
      throw new IllegalArgumentException("embedding_size and memory_size must be >= 1, got " + embeddingSize + " and "
          + memorySize);
    }
    this.embeddingSize = embeddingSize;
    this.memorySize = memorySize;
    this.miner = miner;
    resetQueue();
  }

  /**
   * Beyond PML: for the first {@code steps} calls the memory is filled but not used as the reference: the loss sees
   * only the current batch (the miner, if any, mines within the batch; a caller's tuple then addresses batch rows),
   * avoiding stale negatives from an untrained encoder. Call {@code steps + 1} and later use the memory, which then
   * already holds the warm-up batches. 0 (the default) is PML's behaviour. {@link #resetQueue()} restarts the count.
   * Spec key {@code warm_up}.
   *
   * @return this memory
   */
  public CrossBatchMemory withWarmUp(int steps) {
    if (steps < 0) {
      throw new IllegalArgumentException("warm-up steps must be >= 0, got " + steps);
    }
    this.warmUpSteps = steps;
    return this;
  }

  /** The number of warm-up calls (0, the default, is PML's behaviour); see {@link #withWarmUp(int)}. */
  public int warmUp() {
    return warmUpSteps;
  }

  /** Empties the queue (zeros, pointer 0, not filled). */
  public final void resetQueue() {
    try (NoGradGuard g = new NoGradGuard()) {
      embeddingMemory = natives.replace(embeddingMemory, torch.zeros(memorySize, embeddingSize));
      labelMemory = natives.replace(labelMemory, torch.zeros(memorySize).to(ScalarType.Long));
    }
    hasBeenFilled = false;
    queueIdx = 0;
    calls = 0;
  }

  /** The loss of the batch against the memory (labels required; no mask, no tuple). */
  public Tensor forward(Tensor embeddings, Tensor labels) {
    return forward(embeddings, labels, null, null);
  }

  /** {@link MetricLoss} entry point; a reference set cannot be given (the memory is the reference). */
  @Override
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    if (refEmb != null || refLabels != null) {
      throw new IllegalArgumentException("CrossBatchMemory does not take ref_emb: the memory is the reference set");
    }
    return forward(embeddings, labels, indicesTuple, null);
  }

  /**
   * One call: enqueue, then the inner loss against the memory.
   *
   * @param indicesTuple extra (batch, memory) tuple concatenated to the mined one, or null
   * @param enqueueMask bool {@code [B]}: rows marked true are only enqueued, the others are the queries; or null
   */
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor enqueueMask) {
    if (indicesTuple != null && enqueueMask != null) {
      throw new IllegalArgumentException("indices_tuple and enqueue_mask are mutually exclusive");
    }
    if (labels == null) {
      throw new IllegalArgumentException("CrossBatchMemory requires labels");
    }
    labels = Checks.checkEmbeddingsAndLabels(embeddings, labels, "embeddings", "labels");
    if (embeddings.size(1) != embeddingSize) {
      throw new IllegalArgumentException("embeddings have width " + embeddings.size(1) + " but this CrossBatchMemory "
          + "was built with embedding_size " + embeddingSize);
    }
    if (enqueueMask != null) {
      if (enqueueMask.dim() != 1 || enqueueMask.size(0) != embeddings.size(0)) {
        throw new IllegalArgumentException("enqueue_mask must have one entry per embedding: " + embeddings.size(0)
            + " rows, mask shape " + Tensors.shapeString(enqueueMask));
      }
      enqueueMask = enqueueMask.to(embeddings.device(), ScalarType.Bool);
    } else if (embeddings.size(0) > memorySize) {
      throw new IllegalArgumentException("batch size " + embeddings.size(0) + " exceeds memory_size " + memorySize);
    }
    if (embeddingMemory.scalar_type().intern() != embeddings.scalar_type().intern()
        || !embeddingMemory.device().equals(embeddings.device())) {
      try (NoGradGuard g = new NoGradGuard()) {
        embeddingMemory = natives.replace(embeddingMemory,
            embeddingMemory.to(embeddings.device(), embeddings.scalar_type().intern()));
        labelMemory = natives.replace(labelMemory, labelMemory.to(embeddings.device(), ScalarType.Long));
      }
    }
    Tensor embForQueue;
    Tensor labelsForQueue;
    boolean removeSelf;
    if (enqueueMask != null) {
      embForQueue = Tensors.index(embeddings, enqueueMask);
      labelsForQueue = Tensors.index(labels, enqueueMask);
      Tensor keep = enqueueMask.logical_not();
      embeddings = Tensors.index(embeddings, keep);
      labels = Tensors.index(labels, keep);
      removeSelf = false;
    } else {
      embForQueue = embeddings;
      labelsForQueue = labels;
      removeSelf = true;
    }
    Tensor currBatchIdx = addToMemory(embForQueue, labelsForQueue);
    calls++;
    if (calls <= warmUpSteps) {
      return loss.forward(embeddings, labels, warmUpIndicesTuple(embeddings, labels, indicesTuple), null, null);
    }
    Tensor eMem = hasBeenFilled ? embeddingMemory : embeddingMemory.narrow(0, 0, queueIdx);
    Tensor lMem = hasBeenFilled ? labelMemory : labelMemory.narrow(0, 0, queueIdx);
    if (miner == null && indicesTuple == null && loss instanceof GenericPairLoss pairLoss && pairLoss.denseApplies()
        && GenericPairLoss.mode != GenericPairLoss.DenseMode.INDEXED) {
      // Every (batch, memory) pair is used: masked operations over the [B, M] matrix, no pair indices. The batch was
      // validated above, and the memory holds only validated rows (enqueued batches, restored snapshots checked in
      // restoreState) in the batch's dtype and width: no scan of the whole memory for NaN/Inf every step (a serial
      // pass over 2 M values at memory 16,384).
      bankNorms.attach(embeddingMemory);
      return pairLoss.denseForward(embeddings, labels, eMem, lMem, removeSelf ? currBatchIdx : null, bankNorms);
    }
    IndicesTuple tuple = createIndicesTuple(embeddings, labels, eMem, lMem, indicesTuple, removeSelf, currBatchIdx);
    return loss.forward(embeddings, labels, tuple, eMem, lMem);
  }

  /**
   * The tuple of a warm-up call: the miner's tuple within the batch (null without a miner: the loss takes all
   * pairs/triplets of the batch), plus the caller's tuple, whose indices then address batch rows.
   */
  private IndicesTuple warmUpIndicesTuple(Tensor emb, Tensor labels, IndicesTuple input) {
    IndicesTuple t = miner != null ? miner.forward(emb, labels) : null;
    if (input == null) {
      return t;
    }
    IndicesTuple in = input.to(emb);
    if (t == null) {
      return in;
    }
    if (in.isTriplets() && t.isPairs()) {
      in = Lmu.convertToPairs(in, labels, null);
    } else if (in.isPairs() && t.isTriplets()) {
      in = Lmu.convertToTriplets(in, labels, null, null);
    }
    return Lmu.concatenate(t, in);
  }

  private Tensor addToMemory(Tensor emb, Tensor labels) {
    long b = emb.size(0);
    Tensor idx = torch.remainder(torch.arange(Tensors.s(queueIdx), Tensors.s(queueIdx + b),
        Tensors.options(ScalarType.Long, labels)), Tensors.s((long) memorySize));
    try (NoGradGuard g = new NoGradGuard()) {
      long version = embeddingMemory.__dispatch__version();
      Tensors.put(embeddingMemory, idx, emb.detach());
      bankNorms.written(embeddingMemory, idx, version);
      Tensors.put(labelMemory, idx, labels.detach());
    }
    long prev = queueIdx;
    queueIdx = (queueIdx + b) % memorySize;
    if (!hasBeenFilled && queueIdx <= prev) {
      hasBeenFilled = true;
    }
    return idx;
  }

  private IndicesTuple createIndicesTuple(Tensor emb, Tensor labels, Tensor eMem, Tensor lMem, IndicesTuple input,
      boolean removeSelf, Tensor currBatchIdx) {
    IndicesTuple t = miner != null ? miner.forward(emb, labels, eMem, lMem) : Lmu.allPairsIndices(labels, lMem);
    if (removeSelf && Tensors.len(currBatchIdx) > 0) {
      t = Lmu.removeSelfComparisons(t, currBatchIdx, memorySize, false);
    }
    if (input != null) {
      IndicesTuple in = input.to(emb);
      if (in.isTriplets() && t.isPairs()) {
        in = Lmu.convertToPairs(in, labels, null);
      } else if (in.isPairs() && t.isTriplets()) {
        in = Lmu.convertToTriplets(in, labels, null, null);
      }
      t = Lmu.concatenate(t, in);
    }
    return t;
  }

  /**
   * What the next {@link #forward} of up to {@code rows} embeddings overwrites: the memory slots it enqueues into, the
   * queue pointer, the filled flag and the call count. {@link #undoEnqueue} puts them back, so that a caller that
   * discards a step (the trainer's non-finite guard) leaves the memory as it was. Costs a copy of {@code rows} slots,
   * not of the whole memory; the tensors belong to the caller's scope.
   *
   * @param rows the batch size of the coming call (an upper bound of the rows it enqueues)
   * @throws IllegalArgumentException when {@code rows} is negative
   */
  public EnqueueMark markEnqueue(long rows) {
    if (rows < 0) {
      throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    }
    long n = Math.min(rows, memorySize);
    Tensor idx = torch.remainder(torch.arange(Tensors.s(queueIdx), Tensors.s(queueIdx + n),
        Tensors.options(ScalarType.Long, labelMemory)), Tensors.s((long) memorySize));
    try (NoGradGuard g = new NoGradGuard()) {
      return new EnqueueMark(idx, Tensors.index(embeddingMemory, idx).clone(), Tensors.index(labelMemory, idx).clone(),
          queueIdx, hasBeenFilled, calls);
    }
  }

  /**
   * Undoes the enqueue of the call that followed {@link #markEnqueue}: the slots, pointer, filled flag and call count
   * as they were when the mark was taken.
   *
   * @throws IllegalArgumentException when {@code mark} is null
   */
  public void undoEnqueue(EnqueueMark mark) {
    if (mark == null) {
      throw new IllegalArgumentException("mark must not be null");
    }
    try (NoGradGuard g = new NoGradGuard()) {
      Tensors.put(embeddingMemory, mark.slots().to(embeddingMemory.device(), ScalarType.Long),
          mark.embeddings().to(embeddingMemory.device(), embeddingMemory.scalar_type().intern()));
      Tensors.put(labelMemory, mark.slots().to(labelMemory.device(), ScalarType.Long),
          mark.labels().to(labelMemory.device(), ScalarType.Long));
    }
    queueIdx = mark.queueIdx();
    hasBeenFilled = mark.hasBeenFilled();
    calls = mark.calls();
  }

  /**
   * The part of the memory one call may overwrite, taken by {@link #markEnqueue}.
   *
   * @param slots the memory rows the call enqueues into
   * @param embeddings their contents before the call
   * @param labels their labels before the call
   * @param queueIdx the queue pointer before the call
   * @param hasBeenFilled the filled flag before the call
   * @param calls the call count before the call
   */
  public record EnqueueMark(Tensor slots, Tensor embeddings, Tensor labels, long queueIdx, boolean hasBeenFilled,
      long calls) {}

  @Override
  public Map<String, Object> stateSnapshot() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("queue_idx", queueIdx);
    m.put("has_been_filled", hasBeenFilled);
    m.put("label_memory", labelMemory.clone());
    m.put("embedding_memory", embeddingMemory.clone());
    return m;
  }

  /**
   * Restores the queue from a snapshot (for checkpoints).
   *
   * @throws IllegalArgumentException when the shapes do not match this memory
   */
  public void restoreState(Tensor embeddingMemory, Tensor labelMemory, long queueIdx, boolean hasBeenFilled) {
    if (embeddingMemory.size(0) != memorySize || embeddingMemory.size(1) != embeddingSize
        || labelMemory.size(0) != memorySize) {
      throw new IllegalArgumentException("memory snapshot has shape " + Tensors.shapeString(embeddingMemory)
          + " but this CrossBatchMemory holds [" + memorySize + ", " + embeddingSize + "]");
    }
    if (queueIdx < 0 || queueIdx >= memorySize) {
      throw new IllegalArgumentException("queue_idx " + queueIdx + " out of range [0, " + memorySize + ")");
    }
    Checks.checkEmbeddingsAndLabels(embeddingMemory, null, "embedding_memory", "label_memory");
    try (NoGradGuard g = new NoGradGuard()) {
      this.embeddingMemory = natives.replace(this.embeddingMemory, embeddingMemory.detach().clone());
      this.labelMemory = natives.replace(this.labelMemory, labelMemory.detach().to(ScalarType.Long).clone());
    }
    this.queueIdx = queueIdx;
    this.hasBeenFilled = hasBeenFilled;
  }

  @Override
  public Map<String, Tensor> parameters() {
    return loss.parameters();
  }

  @Override
  public void setParameter(String name, Tensor value) {
    loss.setParameter(name, value);
  }

  @Override
  public void toParameters(ScalarType dtype, Device device) {
    loss.toParameters(dtype, device);
  }

  public BaseMetricLossFunction loss() {
    return loss;
  }

  public BaseMiner miner() {
    return miner;
  }

  public int embeddingSize() {
    return embeddingSize;
  }

  public int memorySize() {
    return memorySize;
  }

  public long queueIdx() {
    return queueIdx;
  }

  public boolean hasBeenFilled() {
    return hasBeenFilled;
  }

  /** Registry factory: {@code loss}, {@code embedding_size}, {@code memory_size}, {@code miner}, {@code warm_up}. */
  public static CrossBatchMemory fromSpec(Params p) {
    BaseMetricLossFunction loss = p.getComponent("loss", BaseMetricLossFunction.class);
    if (loss == null) {
      throw new IllegalArgumentException("CrossBatchMemory needs a loss");
    }
    Integer size = p.getIntOrNull("embedding_size");
    if (size == null) {
      throw new IllegalArgumentException("CrossBatchMemory needs embedding_size");
    }
    CrossBatchMemory cbm = new CrossBatchMemory(loss, size, p.getInt("memory_size", DEFAULT_MEMORY_SIZE),
        p.getComponent("miner", BaseMiner.class));
    p.collectStats(); // PML's ModuleWithRecords keyword; no statistics are recorded
    return cbm.withWarmUp(p.getInt("warm_up", DEFAULT_WARM_UP));
  }

  /**
   * Frees the queue's native tensors now rather than when the garbage collector finds them; the memory cannot be used
   * afterwards (until {@link #resetQueue()} or {@link #restoreState} makes a new queue). Idempotent.
   */
  public void releaseQueue() {
    natives.close();
    bankNorms.reset();
  }

  // ---------------------------------------------------------------- native lifetimes

  /**
   * The owner of the queue (embeddings and labels): a trainer adopts it, so closing the trainer frees them.
   */
  private final Owner natives = new Owner();

  /**
   * The memory's rows normalized, kept across calls for the fused dense kernel (only the rows written since are
   * normalized again); its tensor is the queue's, owned by {@link #natives}.
   */
  final DenseContrastive.BankNorms bankNorms = new DenseContrastive.BankNorms(natives);

  @Override
  public final Owner natives() {
    return natives;
  }
}
