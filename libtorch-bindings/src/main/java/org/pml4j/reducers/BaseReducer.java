package org.pml4j.reducers;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * PML's {@code BaseReducer}: turns a one-entry loss dict into a scalar. The zero-loss sentinel becomes
 * {@code sum(embeddings * 0)}, a zero that keeps the autograd graph, dtype and device.
 */
public abstract class BaseReducer {
  static {
    Torch.ensureLoaded();
  }

  /**
   * Reduces a loss dict with exactly one entry.
   *
   * @param embeddings the query embeddings (for the zero loss)
   * @param labels the query labels (may be null; some reducers need them)
   * @throws IllegalArgumentException when an argument is null, the dict has not exactly one entry, or an entry is
   *     inconsistent (index tensors missing, not 1-D integer tensors, or of another length than the losses)
   */
  public Tensor forward(LossDict lossDict, Tensor embeddings, Tensor labels) {
    checkArguments(lossDict, embeddings);
    if (lossDict.size() != 1) {
      throw new IllegalArgumentException(getClass().getSimpleName()
          + " reduces a loss dict with exactly one entry, got " + lossDict.keySet()
          + " (use MultipleReducers for several sub-losses)");
    }
    Map.Entry<String, LossInfo> e = lossDict.entrySet().iterator().next();
    return reduceTheLoss(e.getValue(), embeddings, labels);
  }

  protected Tensor reduceTheLoss(LossInfo info, Tensor embeddings, Tensor labels) {
    if (info.isZero()) {
      return zeroLoss(embeddings);
    }
    assertSizes(info);
    Tensor losses = info.losses();
    Tensor[] idx = info.indices();
    return switch (info.reductionType()) {
      case ALREADY_REDUCED -> alreadyReducedReduction(losses);
      case ELEMENT -> elementReduction(losses, idx[0], embeddings, labels, info);
      case POS_PAIR -> posPairReduction(losses, idx, embeddings, labels, info);
      case NEG_PAIR -> negPairReduction(losses, idx, embeddings, labels, info);
      case TRIPLET -> tripletReduction(losses, idx, embeddings, labels, info);
    };
  }

  protected Tensor alreadyReducedReduction(Tensor losses) {
    if (!(losses.dim() == 0 || Tensors.len(losses) == 1)) {
      throw new IllegalArgumentException(
          "already_reduced losses must be a scalar, got shape " + Tensors.shapeString(losses));
    }
    return losses;
  }

  protected abstract Tensor elementReduction(Tensor losses, Tensor indices, Tensor embeddings, Tensor labels,
      LossInfo info);

  protected abstract Tensor posPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels,
      LossInfo info);

  protected abstract Tensor negPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels,
      LossInfo info);

  protected abstract Tensor tripletReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels,
      LossInfo info);

  /** {@code torch.sum(embeddings * 0)}. */
  public static Tensor zeroLoss(Tensor embeddings) {
    return embeddings.mul(Tensors.s(0.0)).sum();
  }

  /**
   * The argument check of {@link #forward}: a non-null loss dict without null entries, and non-null embeddings (the
   * zero loss is built from them).
   *
   * @throws IllegalArgumentException naming the argument
   */
  protected static void checkArguments(LossDict lossDict, Tensor embeddings) {
    if (lossDict == null) {
      throw new IllegalArgumentException("loss_dict must not be null");
    }
    if (embeddings == null) {
      throw new IllegalArgumentException("embeddings must not be null");
    }
    for (Map.Entry<String, LossInfo> e : lossDict.entrySet()) {
      if (e.getValue() == null) {
        throw new IllegalArgumentException("loss_dict['" + e.getKey() + "'] must not be null");
      }
      if (e.getValue().reductionType() == null) {
        throw new IllegalArgumentException("loss_dict['" + e.getKey() + "'] has no reduction_type");
      }
    }
  }

  /**
   * Checks that {@code idx} (an entry's index tensor) holds values in {@code [0, bound)}, so that a reducer indexing
   * with it fails with a clear message instead of inside LibTorch.
   *
   * @param bound the exclusive upper bound; {@code Long.MAX_VALUE} checks only for negative values
   * @param what what the index addresses, for the message
   * @throws IllegalArgumentException naming the reducer, the index tensor and the range
   */
  protected void checkIndexRange(Tensor idx, String idxName, long bound, String what) {
    if (Tensors.len(idx) == 0) {
      return;
    }
    long lo = idx.min().item_long();
    long hi = idx.max().item_long();
    if (lo < 0 || hi >= bound) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": loss_dict " + idxName + " has values in ["
          + lo + ", " + hi + "] but must " + (bound == Long.MAX_VALUE ? "not be negative (they index the " + what + ")"
              : "index the " + bound + " " + what));
    }
  }

  protected void assertSizes(LossInfo info) {
    Tensor losses = info.losses();
    Tensor[] idx = info.indices();
    String type = info.reductionType().pmlName();
    if (info.reductionType() != ReductionType.ALREADY_REDUCED && idx != null) {
      for (int i = 0; i < idx.length; i++) {
        require(idx[i] != null, type + ": indices[" + i + "] must not be null");
        org.bytedeco.pytorch.global.torch.ScalarType t = Tensors.dtype(idx[i]);
        require(idx[i].dim() == 1 && !idx[i].is_floating_point() && !idx[i].is_complex()
            && t != org.bytedeco.pytorch.global.torch.ScalarType.Bool,
            type + ": indices[" + i + "] must be a 1D integer tensor, got " + t + " of shape "
                + Tensors.shapeString(idx[i]));
      }
    }
    switch (info.reductionType()) {
      case ALREADY_REDUCED -> { }
      case ELEMENT -> {
        require(idx != null && idx.length == 1, type + " needs one index tensor");
        require(Tensors.len(losses) == Tensors.len(idx[0]),
            type + ": " + Tensors.len(losses) + " losses but " + Tensors.len(idx[0]) + " indices");
      }
      case POS_PAIR, NEG_PAIR -> {
        require(idx != null && idx.length == 2, type + " needs two index tensors");
        require(Tensors.len(losses) == Tensors.len(idx[0]) && Tensors.len(idx[0]) == Tensors.len(idx[1]),
            type + ": losses and indices differ in length");
      }
      case TRIPLET -> {
        require(idx != null && idx.length == 3, type + " needs three index tensors");
        for (Tensor t : idx) {
          require(Tensors.len(t) == Tensors.len(losses), type + ": losses and indices differ in length");
        }
      }
    }
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "()";
  }
}
