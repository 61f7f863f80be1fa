package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.validation.Inputs;
import org.pml4j.reducers.AvgNonZeroReducer;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.DivisorReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.MultipleReducers;
import org.pml4j.reducers.SumReducer;
import org.pml4j.reducers.ThresholdReducer;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code GenericPairLoss}: converts whatever tuple it gets (or the labels) to pairs, computes the distance
 * matrix, and hands either 0/1 pair masks ({@code matBasedLoss}) or the gathered pair values to the subclass. Like PML
 * it returns the zero loss when every index tensor has at most one element.
 *
 * <p><b>Dense path.</b> When no tuple restricts the pairs (every positive and every negative pair is used), pml4j does
 * not materialise int64 pair indices (PML's {@code torch.where} of the label matrices: 4.2 M pairs for a batch of 256
 * against a memory of 16,384). Mat-based losses get the pair masks straight from the label comparison. Pair-based
 * losses that implement {@link #computeDensePairLoss} compute their per-pair losses as {@code [N, M]} matrices and
 * reduce them under the masks, for the reducers whose pair reduction is a masked sum and count:
 * {@link MeanReducer}, {@link SumReducer}, {@link DivisorReducer} (no divisor), {@link ThresholdReducer} and
 * {@link AvgNonZeroReducer} (also inside {@link MultipleReducers}). Values and gradients equal the indexed path up to
 * the order of floating-point summation. Other reducers (which may look at the pair indices), a miner's or a caller's
 * tuple, and {@link #lossDict} (which returns the unreduced per-pair dict) take the indexed path.
 */
public abstract class GenericPairLoss extends BaseMetricLossFunction {
  private final boolean matBasedLoss;

  protected GenericPairLoss(boolean matBasedLoss, LossOptions options) {
    super(options);
    this.matBasedLoss = matBasedLoss;
  }

  @Override
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    if (indicesTuple != null || labels == null || !denseApplies() || mode == DenseMode.INDEXED) {
      return super.forward(embeddings, labels, indicesTuple, refEmb, refLabels);
    }
    Inputs in = Inputs.validate(embeddings, labels, null, refEmb, refLabels);
    return denseForward(in.embeddings(), in.labels(), in.refEmb(), in.refLabels(), null, null);
  }

  /**
   * Whether a call without a tuple takes the dense path: always for mat-based losses; for pair-based ones when the
   * subclass implements {@link #computeDensePairLoss} and every sub-loss's reducer reduces masked sums.
   */
  public boolean denseApplies() {
    if (matBasedLoss) {
      return true;
    }
    if (!supportsDensePairLoss()) {
      return false;
    }
    for (String name : baseSubLossNames()) {
      if (!isDenseReducer(reducerFor(name))) {
        return false;
      }
    }
    return true;
  }

  /**
   * The reduced loss over every pair of {@code labels} x {@code refLabels} without index tensors; inputs already
   * validated ({@code refEmb}/{@code refLabels} are the query's own objects when there is no reference set). Used by
   * {@link CrossBatchMemory} when no miner and no tuple restrict the pairs; call only when {@link #denseApplies()}.
   *
   * @param selfSlots {@code [N]} int64: the reference column holding query row i itself (a memory bank's slots of
   *     the current batch), whose positive pair is dropped as PML's {@code remove_self_comparisons} does; or null
   * @param bankNorms the memory bank's normalized rows kept by its owner, for a fused kernel; or null
   */
  Tensor denseForward(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels, Tensor selfSlots,
      DenseContrastive.BankNorms bankNorms) {
    LossDict dict;
    if (embeddings.size(0) == 0) {
      dict = zeroLosses();
    } else if (mode == DenseMode.FUSED
        && (dict = computeFusedDenseLoss(embeddings, labels, refEmb, refLabels, selfSlots, bankNorms)) != null) {
      // the subclass's fused kernel did it all
    } else {
      Tensor[] masks = pairMasks(labels, refLabels, selfSlots);
      long numPos = masks[0].sum().item_long();
      long numNeg = masks[1].sum().item_long();
      if (numPos <= 1 && numNeg <= 1) {
        dict = zeroLosses();
      } else {
        Tensor mat = distance.forward(embeddings, refEmb);
        if (matBasedLoss) {
          ScalarType dtype = Tensors.dtype(mat);
          dict = computeMatLoss(mat, masks[0].to(dtype), masks[1].to(dtype));
        } else {
          dict = computeDensePairLoss(mat, masks[0], masks[1], numPos, numNeg);
        }
      }
    }
    addEmbeddingRegularization(dict, embeddings);
    return reducer.forward(dict, embeddings, labels);
  }

  /**
   * Bool {@code [N, M]} masks of all positive and all negative pairs: equal labels (minus the diagonal when the
   * reference is the query itself, minus {@code (i, selfSlots[i])}), and different labels.
   */
  static Tensor[] pairMasks(Tensor labels, Tensor refLabels, Tensor selfSlots) {
    Tensor pos = labels.unsqueeze(1).eq(refLabels.unsqueeze(0));
    Tensor neg = pos.logical_not();
    if (refLabels == labels) {
      pos.fill_diagonal_(Tensors.s(0L));
    }
    if (selfSlots != null && Tensors.len(selfSlots) > 0) {
      pos.scatter_(1, selfSlots.view(-1, 1), Tensors.s(0L));
    }
    return new Tensor[] {pos, neg};
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsOrIndicesTupleRequired(labels, indicesTuple);
    // Mat-based losses take 0/1 pair masks: straight from the labels for all pairs, or the masks of mined pairs
    // (IndicesTuple.pairsFromMasks) — the same masks as writing ones at the pair indices; "every index tensor has at
    // most one entry" is then "at most one positive and one negative pair".
    Tensor[] masks = !matBasedLoss || mode == DenseMode.INDEXED ? null
        : indicesTuple == null ? pairMasks(labels, refLabels, null) : indicesTuple.pairMasks();
    if (masks != null) {
      if (masks[0].sum().item_long() <= 1 && masks[1].sum().item_long() <= 1) {
        return zeroLosses();
      }
      Tensor mat = distance.forward(embeddings, refEmb);
      ScalarType dtype = Tensors.dtype(mat);
      return computeMatLoss(mat, masks[0].to(dtype), masks[1].to(dtype));
    }
    IndicesTuple pairs = Lmu.convertToPairs(indicesTuple, labels, refLabels);
    boolean allSmall = true;
    for (Tensor t : pairs.tensors()) {
      if (Tensors.len(t) > 1) {
        allSmall = false;
      }
    }
    if (allSmall) {
      return zeroLosses();
    }
    Tensor mat = distance.forward(embeddings, refEmb);
    if (matBasedLoss) {
      Tensor posMask = Tensors.zeros(mat, mat.size(0), mat.size(1));
      Tensor negMask = Tensors.zeros(mat, mat.size(0), mat.size(1));
      Tensors.put2(posMask, pairs.get(0), pairs.get(1), 1.0);
      Tensors.put2(negMask, pairs.get(2), pairs.get(3), 1.0);
      return computeMatLoss(mat, posMask, negMask);
    }
    Tensor pos = Tensors.len(pairs.get(0)) > 0 ? Tensors.index2(mat, pairs.get(0), pairs.get(1)) : null;
    Tensor neg = Tensors.len(pairs.get(2)) > 0 ? Tensors.index2(mat, pairs.get(2), pairs.get(3)) : null;
    return computePairLoss(pos, neg, pairs);
  }

  /**
   * Hook of mat-based losses ({@code matBasedLoss = true}).
   *
   * @param posMask 1 where (a1, p) is a positive pair, dtype of {@code mat}
   * @param negMask 1 where (a2, n) is a negative pair
   */
  protected LossDict computeMatLoss(Tensor mat, Tensor posMask, Tensor negMask) {
    throw new IllegalStateException(getClass().getSimpleName() + " is not mat-based");
  }

  /**
   * Hook of pair-based losses ({@code matBasedLoss = false}).
   *
   * @param posPairs {@code mat[a1, p]}, or null when there are no positive pairs (PML's empty list)
   * @param negPairs {@code mat[a2, n]}, or null when there are no negative pairs
   */
  protected LossDict computePairLoss(Tensor posPairs, Tensor negPairs, IndicesTuple pairs) {
    throw new IllegalStateException(getClass().getSimpleName() + " is not pair-based");
  }

  /** Which implementation a call over all pairs uses; only tests change it (to compare the paths). */
  enum DenseMode {
    /** A subclass's fused kernel where it has one for the inputs, else masked operations. */
    FUSED,
    /** Masked ATen operations over the matrix (no fused kernel). */
    MASKED,
    /** PML's path: pair indices from the labels, as with a tuple. */
    INDEXED
  }

  static volatile DenseMode mode = DenseMode.FUSED;

  /**
   * Optional fused kernel of the dense path: the whole loss dict over all pairs (sub-losses already reduced), or
   * null when it does not handle these inputs (then the masked operations run). Inputs as for
   * {@link #denseForward}. Package-private: a fused kernel works on this package's internals.
   */
  LossDict computeFusedDenseLoss(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels,
      Tensor selfSlots, DenseContrastive.BankNorms bankNorms) {
    return null;
  }

  /** Whether this pair-based loss implements {@link #computeDensePairLoss}. */
  protected boolean supportsDensePairLoss() {
    return false;
  }

  /**
   * Dense hook of pair-based losses: the loss dict for all pairs given as masks, each sub-loss already reduced with
   * {@link #reduceDense} (so entries are {@code already_reduced} or the zero loss).
   *
   * @param posMask bool {@code [N, M]}, true at every positive pair
   * @param negMask bool {@code [N, M]}, true at every negative pair
   * @param numPos number of positive pairs ({@code posMask.sum()})
   * @param numNeg number of negative pairs
   */
  protected LossDict computeDensePairLoss(Tensor mat, Tensor posMask, Tensor negMask, long numPos, long numNeg) {
    throw new IllegalStateException(getClass().getSimpleName() + " has no dense pair loss");
  }

  /** Reducers whose pair reduction depends only on the loss values (so a masked sum and count give it). */
  static boolean isDenseReducer(BaseReducer r) {
    Class<?> c = r.getClass();
    return c == MeanReducer.class || c == SumReducer.class || c == DivisorReducer.class || c == ThresholdReducer.class
        || c == AvgNonZeroReducer.class;
  }

  /**
   * Reduces per-pair losses given as a matrix under a mask, as {@code reducerFor(name)} would reduce the list of the
   * masked entries: the {@code already_reduced} result, or the zero loss where that reducer returns it (no pairs, or
   * none passing a threshold). Entries outside the mask may hold anything finite or not; they get zero gradient.
   *
   * @param count the number of true entries of {@code mask}
   */
  protected LossInfo reduceDense(String name, Tensor losses, Tensor mask, long count) {
    BaseReducer r = reducerFor(name);
    if (count == 0) {
      return LossInfo.zero();
    }
    Tensor zero = Tensors.scalarLike(0.0, losses);
    if (r instanceof ThresholdReducer t) {
      Tensor keep = mask;
      if (t.low() != null) {
        keep = keep.logical_and(losses.gt(Tensors.s(t.low())));
      }
      if (t.high() != null) {
        keep = keep.logical_and(losses.lt(Tensors.s(t.high())));
      }
      long n = keep.sum().item_long();
      if (n == 0) {
        return LossInfo.zero();
      }
      return LossInfo.reduced(torch.where(keep, losses, zero).sum().div(Tensors.s((double) n)));
    }
    Tensor sum = torch.where(mask, losses, zero).sum();
    if (r.getClass() == MeanReducer.class) {
      return LossInfo.reduced(sum.div(Tensors.s((double) count)));
    }
    if (r.getClass() == SumReducer.class || r.getClass() == DivisorReducer.class) {
      return LossInfo.reduced(sum);
    }
    throw new IllegalStateException("reducer " + r + " has no dense reduction");
  }
}
