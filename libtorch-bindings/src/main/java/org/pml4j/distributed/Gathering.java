package org.pml4j.distributed;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.miners.BaseMiner;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/** PML's gathering helpers of {@code utils/distributed.py}, on a {@link Collective}. */
final class Gathering {
  private Gathering() {}

  /**
   * Every rank's {@code local} concatenated along dim 0, null staying null. The local rows keep their autograd history
   * (they are {@code local} itself), the other ranks' rows are constants; so the gradient of a loss on the result
   * reaches exactly this rank's embeddings.
   *
   * @param localFirst PML's order, {@code [local, the other ranks' rows in rank order]} (what the efficient form's
   *     self-comparison removal relies on); false: rank order, with this rank's chunk being {@code local} (every rank
   *     then builds the same batch, the one a single process would train on)
   */
  static Tensor gather(Collective c, Tensor local, String name, boolean localFirst) {
    if (local == null) {
      return null;
    }
    if (local.dim() == 0) {
      throw new IllegalArgumentException(name + " must have a batch dimension, got a scalar");
    }
    Tensor all = c.allGather(local);
    long b = local.size(0);
    long r = c.rank();
    long w = c.worldSize();
    Tensor before = all.narrow(0, 0, r * b);
    Tensor after = all.narrow(0, (r + 1) * b, (w - r - 1) * b);
    return localFirst ? Tensors.cat(0, local, before, after) : Tensors.cat(0, before, local, after);
  }

  /**
   * PML's {@code get_indices_tuple}: mined (or all) pairs of {@code labels} against {@code refLabels}, with the
   * comparisons of each local row against its own slot (the first {@code B} rows of the reference) removed.
   */
  static IndicesTuple indicesTuple(Tensor labels, Tensor refLabels, Tensor embeddings, Tensor refEmb,
      BaseMiner miner) {
    Tensor currBatchIdx = Tensors.arange(Tensors.len(labels), labels);
    IndicesTuple tuple = miner != null ? miner.forward(embeddings, labels, refEmb, refLabels)
        : Lmu.allPairsIndices(labels, refLabels);
    return Lmu.removeSelfComparisons(tuple, currBatchIdx, Tensors.len(refLabels), false);
  }
}
