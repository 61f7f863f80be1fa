package org.pml4j.distributed;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
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
    return arrange(c, c.allGather(local), local, localFirst);
  }

  /** {@code all} (every rank's rows in rank order) with this rank's chunk replaced by {@code local}, in that order. */
  private static Tensor arrange(Collective c, Tensor all, Tensor local, boolean localFirst) {
    long b = local.size(0);
    long r = c.rank();
    long w = c.worldSize();
    Tensor before = all.narrow(0, 0, r * b);
    Tensor after = all.narrow(0, (r + 1) * b, (w - r - 1) * b);
    return localFirst ? Tensors.cat(0, local, before, after) : Tensors.cat(0, before, local, after);
  }

  /** The embeddings and labels of every rank, arranged as {@link #gather} arranges them (labels may be null). */
  record Batch(Tensor embeddings, Tensor labels) {}

  /** Labels up to this magnitude survive a round trip through float64. */
  private static final long EXACT_IN_DOUBLE = 1L << 53;

  /**
   * {@link #gather} of the embeddings and of the labels in one all-gather instead of two: a floating {@code [B, E]}
   * batch and integral {@code [B]} labels whose magnitudes are at most 2^53 travel as one float64 {@code [B, E + 1]}
   * tensor, and come back exactly in their own dtypes (every float32 value and every such integer is a float64);
   * anything else is gathered as two tensors.
   *
   * @param agreed whether the caller's protocol already made every rank pass the same shapes ({@link Agreed})
   */
  static Batch gatherBatch(Collective c, Tensor embeddings, Tensor labels, boolean localFirst, boolean agreed) {
    if (embeddings.dim() == 0) {
      throw new IllegalArgumentException("embeddings must have a batch dimension, got a scalar");
    }
    boolean packable = labels != null && embeddings.dim() == 2 && labels.dim() == 1
        && labels.size(0) == embeddings.size(0) && Tensors.isFloating(Tensors.dtype(embeddings))
        && !Tensors.isFloating(Tensors.dtype(labels)) && Tensors.dtype(labels) != ScalarType.Bool
        && (labels.numel() == 0 || labels.abs().max().item_long() <= EXACT_IN_DOUBLE);
    if (!packable) {
      return new Batch(agreed ? arrange(c, Agreed.allGather(c, embeddings), embeddings, localFirst)
          : gather(c, embeddings, "embeddings", localFirst),
          labels == null ? null : agreed ? arrange(c, Agreed.allGather(c, labels), labels, localFirst)
              : gather(c, labels, "labels", localFirst));
    }
    long e = embeddings.size(1);
    Tensor packed = Tensors.cat(1, embeddings.detach().to(ScalarType.Double),
        labels.to(ScalarType.Double).unsqueeze(1)).contiguous();
    Tensor all = agreed ? Agreed.allGather(c, packed) : c.allGather(packed);
    Tensor allEmb = all.narrow(1, 0, e).to(Tensors.dtype(embeddings));
    Tensor allLabels = all.narrow(1, e, 1).squeeze(1).to(Tensors.dtype(labels));
    return new Batch(arrange(c, allEmb, embeddings, localFirst), arrange(c, allLabels, labels, localFirst));
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
