package org.pml4j.distributed;

import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.losses.BaseMetricLossFunction;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.MetricLoss;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code DistributedLossWrapper(loss, efficient=False)}: a loss computed over the embeddings of every replica.
 *
 * <p>Each call all-gathers the embeddings and labels (and reference embeddings/labels, and CrossBatchMemory's
 * {@code enqueue_mask}). c10d's all-gather is not differentiable: this rank's rows in the gathered batch are the local
 * tensor itself (with its autograd history), the other ranks' rows are constants. Every rank must pass the same batch
 * size.
 * <ul>
 *   <li>{@code efficient=false}: the wrapped loss of the whole gathered batch, in rank order. PML puts the local rows
 *       first instead; the loss is the same up to rounding, but with rank order every replica computes on exactly the
 *       batch a single process would train on at batch {@code worldSize * B}, and CrossBatchMemory's queues hold the
 *       same rows in the same slots on every replica as in that single process (with PML's order they differ once the
 *       queue wraps in the middle of a gathered batch). Indices mined by a non-efficient
 *       {@link DistributedMinerWrapper} index this same rank-ordered batch.
 *   <li>{@code efficient=true}: the local embeddings as anchors against the gathered set as reference (gathered as PML
 *       does: the local rows first, then the other ranks' in rank order), with all pairs (or the given tuple) and the
 *       comparisons of each row with its own slot removed; cheaper, and not equal to the non-distributed loss.
 *   <li>CrossBatchMemory ({@code efficient=false} only): every rank enqueues the whole gathered batch, so the memories
 *       hold the same rows on every rank.
 * </ul>
 * The result is multiplied by the world size, because {@link GradientAverager} divides the summed gradients by it: the
 * averaged gradient then equals the gradient of the non-distributed loss on the concatenated batch. At world size 1
 * the wrapped loss's result is returned unchanged.
 */
public final class DistributedLossWrapper implements MetricLoss {
  private final MetricLoss loss;
  private final boolean efficient;
  private final Collective collective;

  /**
   * Wraps {@code loss} (non-efficient).
   *
   * @throws IllegalArgumentException as {@link #DistributedLossWrapper(MetricLoss, boolean, Collective)}
   */
  public DistributedLossWrapper(MetricLoss loss, Collective collective) {
    this(loss, false, collective);
  }

  /**
   * Wraps {@code loss}.
   *
   * @param loss a {@link BaseMetricLossFunction} or a {@link CrossBatchMemory}
   * @param efficient PML's {@code efficient}: local anchors against the gathered reference
   * @param collective the replicas' group
   * @throws IllegalArgumentException when {@code loss} is null or of another kind, {@code collective} is null, or
   *     {@code efficient} is asked of a CrossBatchMemory
   */
  public DistributedLossWrapper(MetricLoss loss, boolean efficient, Collective collective) {
    if (!(loss instanceof BaseMetricLossFunction) && !(loss instanceof CrossBatchMemory)) {
      throw new IllegalArgumentException("loss must be a BaseMetricLossFunction or a CrossBatchMemory, got "
          + (loss == null ? "null" : loss.getClass().getName()));
    }
    if (loss instanceof CrossBatchMemory && efficient) {
      throw new IllegalArgumentException("efficient=true is not supported with CrossBatchMemory (as in PML)");
    }
    if (collective == null) {
      throw new IllegalArgumentException("collective must not be null (use SingleProcessCollective for one process)");
    }
    this.loss = loss;
    this.efficient = efficient;
    this.collective = collective;
  }

  /** The loss of the batch and labels. */
  public Tensor forward(Tensor embeddings, Tensor labels) {
    return forward(embeddings, labels, null, null, null);
  }

  /**
   * The distributed loss (see the class comment).
   *
   * @throws IllegalArgumentException on bad inputs (as the wrapped loss), or a reference set with CrossBatchMemory
   * @throws IllegalStateException when a collective fails or times out
   */
  @Override
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    if (loss instanceof CrossBatchMemory xbm) {
      if (refEmb != null || refLabels != null) {
        throw new IllegalArgumentException("CrossBatchMemory is not compatible with ref_emb and ref_labels");
      }
      return forwardCrossBatch(xbm, embeddings, labels, indicesTuple, null);
    }
    int w = collective.worldSize();
    if (w <= 1) {
      return loss.forward(embeddings, labels, indicesTuple, refEmb, refLabels);
    }
    requireEmbeddings(embeddings);
    return forwardGathered(embeddings, labels, indicesTuple,
        Gathering.gatherBatch(collective, embeddings, labels, efficient, false), refEmb, refLabels);
  }

  /**
   * {@link #forward(Tensor, Tensor, IndicesTuple, Tensor, Tensor)} on a batch already gathered in this wrapper's order
   * ({@code all}; {@link DataParallelSync} gathers once per step for its miner and loss). Not for a CrossBatchMemory.
   */
  Tensor forwardGathered(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Gathering.Batch all,
      Tensor refEmb, Tensor refLabels) {
    int w = collective.worldSize();
    Tensor allEmb = all.embeddings();
    Tensor allLabels = all.labels();
    Tensor allRefEmb = Gathering.gather(collective, refEmb, "ref_emb", efficient);
    Tensor allRefLabels = Gathering.gather(collective, refLabels, "ref_labels", efficient);
    Tensor out;
    if (efficient) {
      if (allLabels != null) {
        allLabels = allRefLabels != null ? allRefLabels : allLabels;
      }
      allEmb = allRefEmb != null ? allRefEmb : allEmb;
      if (indicesTuple == null) {
        if (labels == null) {
          throw new IllegalArgumentException("labels are required when no indices_tuple is given");
        }
        indicesTuple = Gathering.indicesTuple(labels, allLabels, null, null, null);
      }
      out = loss.forward(embeddings, labels, indicesTuple, allEmb, allLabels);
    } else {
      out = loss.forward(allEmb, allLabels, indicesTuple, allRefEmb, allRefLabels);
    }
    return out.mul(Tensors.s((double) w));
  }

  /**
   * CrossBatchMemory's entry point with an {@code enqueue_mask}, gathered like the embeddings.
   *
   * @throws IllegalArgumentException when the wrapped loss is not a CrossBatchMemory, or on bad inputs
   * @throws IllegalStateException when a collective fails or times out
   */
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor enqueueMask) {
    if (!(loss instanceof CrossBatchMemory xbm)) {
      throw new IllegalArgumentException("enqueue_mask is only taken by a wrapped CrossBatchMemory, not by "
          + loss.getClass().getSimpleName());
    }
    return forwardCrossBatch(xbm, embeddings, labels, indicesTuple, enqueueMask);
  }

  private Tensor forwardCrossBatch(CrossBatchMemory xbm, Tensor embeddings, Tensor labels, IndicesTuple indicesTuple,
      Tensor enqueueMask) {
    int w = collective.worldSize();
    if (w <= 1) {
      return xbm.forward(embeddings, labels, indicesTuple, enqueueMask);
    }
    requireEmbeddings(embeddings);
    return forwardCrossBatchGathered(xbm, indicesTuple,
        Gathering.gatherBatch(collective, embeddings, labels, efficient, false), enqueueMask);
  }

  /** The CrossBatchMemory's loss on a batch already gathered ({@code all}). */
  private Tensor forwardCrossBatchGathered(CrossBatchMemory xbm, IndicesTuple indicesTuple, Gathering.Batch all,
      Tensor enqueueMask) {
    Tensor allMask = Gathering.gather(collective, enqueueMask, "enqueue_mask", efficient);
    return xbm.forward(all.embeddings(), all.labels(), indicesTuple, allMask)
        .mul(Tensors.s((double) collective.worldSize()));
  }

  /**
   * The loss (any kind: CrossBatchMemory too, without an enqueue mask) on a batch already gathered in this wrapper's
   * order, for {@link DataParallelSync}'s step.
   */
  Tensor forwardGathered(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Gathering.Batch all) {
    if (loss instanceof CrossBatchMemory xbm) {
      return forwardCrossBatchGathered(xbm, indicesTuple, all, null);
    }
    return forwardGathered(embeddings, labels, indicesTuple, all, null, null);
  }

  private static void requireEmbeddings(Tensor embeddings) {
    if (embeddings == null || embeddings.isNull() || !embeddings.defined()) {
      throw new IllegalArgumentException("embeddings must be a defined [B, D] tensor, got "
          + (embeddings == null ? "null" : "an undefined tensor"));
    }
  }

  /** The wrapped loss. */
  public MetricLoss loss() {
    return loss;
  }

  /** Whether this is the efficient form. */
  public boolean efficient() {
    return efficient;
  }

  /** The wrapped loss's parameters (average their gradients too: see {@link GradientAverager}). */
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

  @Override
  public String toString() {
    return "DistributedLossWrapper(" + loss + ", efficient=" + efficient + ", " + collective + ")";
  }
}
