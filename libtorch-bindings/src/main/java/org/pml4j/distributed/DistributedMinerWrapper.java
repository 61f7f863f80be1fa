package org.pml4j.distributed;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.miners.BaseMiner;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code DistributedMinerWrapper(miner, efficient=False)}: mines over the embeddings of every replica, gathered
 * as {@link DistributedLossWrapper} gathers them (rank order in the non-efficient form, the local rows first in the
 * efficient form), so the indices it returns index the gathered batch that the loss wrapper builds from the same
 * inputs.
 * <ul>
 *   <li>{@code efficient=false}: the miner on the whole gathered batch (and gathered reference).
 *   <li>{@code efficient=true}: the local embeddings as anchors against the gathered reference, with the comparisons of
 *       each row with its own slot removed; pass the result to an efficient {@link DistributedLossWrapper}.
 * </ul>
 * At world size 1 the miner's result is returned unchanged.
 */
public final class DistributedMinerWrapper {
  private final BaseMiner miner;
  private final boolean efficient;
  private final Collective collective;

  /** Wraps {@code miner} (non-efficient). */
  public DistributedMinerWrapper(BaseMiner miner, Collective collective) {
    this(miner, false, collective);
  }

  /**
   * Wraps {@code miner}.
   *
   * @throws IllegalArgumentException when {@code miner} or {@code collective} is null
   */
  public DistributedMinerWrapper(BaseMiner miner, boolean efficient, Collective collective) {
    if (miner == null) {
      throw new IllegalArgumentException("miner must be a BaseMiner, got null");
    }
    if (collective == null) {
      throw new IllegalArgumentException("collective must not be null (use SingleProcessCollective for one process)");
    }
    this.miner = miner;
    this.efficient = efficient;
    this.collective = collective;
  }

  /** Mines the gathered batch. */
  public IndicesTuple forward(Tensor embeddings, Tensor labels) {
    return forward(embeddings, labels, null, null);
  }

  /**
   * Mines (see the class comment).
   *
   * @throws IllegalArgumentException on bad inputs (as the miner)
   * @throws IllegalStateException when a collective fails or times out
   */
  public IndicesTuple forward(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    if (collective.worldSize() <= 1) {
      return miner.forward(embeddings, labels, refEmb, refLabels);
    }
    if (embeddings == null || labels == null) {
      throw new IllegalArgumentException(miner.getClass().getSimpleName() + " needs embeddings and labels, got "
          + (embeddings == null ? "null embeddings" : "null labels"));
    }
    return forwardGathered(embeddings, labels,
        Gathering.gatherBatch(collective, embeddings.detach(), labels, efficient, false), refEmb, refLabels);
  }

  /**
   * {@link #forward(Tensor, Tensor, Tensor, Tensor)} on a batch already gathered in this wrapper's order ({@code all};
   * {@link DataParallelSync} gathers once per step for its miner and loss).
   */
  IndicesTuple forwardGathered(Tensor embeddings, Tensor labels, Gathering.Batch all, Tensor refEmb,
      Tensor refLabels) {
    Tensor allEmb = all.embeddings().detach();
    Tensor allLabels = all.labels();
    Tensor allRefEmb = refEmb == null ? null : Gathering.gather(collective, refEmb.detach(), "ref_emb", efficient);
    Tensor allRefLabels = Gathering.gather(collective, refLabels, "ref_labels", efficient);
    if (efficient) {
      Tensor refL = allRefLabels != null ? allRefLabels : allLabels;
      Tensor refE = allRefEmb != null ? allRefEmb : allEmb;
      return Gathering.indicesTuple(labels, refL, embeddings, refE, miner);
    }
    return miner.forward(allEmb, allLabels, allRefEmb, allRefLabels);
  }

  /** The wrapped miner. */
  public BaseMiner miner() {
    return miner;
  }

  /** Whether this is the efficient form. */
  public boolean efficient() {
    return efficient;
  }

  @Override
  public String toString() {
    return "DistributedMinerWrapper(" + miner + ", efficient=" + efficient + ", " + collective + ")";
  }
}
