package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.reducers.LossDict;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code GenericPairLoss}: converts whatever tuple it gets (or the labels) to pairs, computes the distance
 * matrix, and hands either 0/1 pair masks ({@code matBasedLoss}) or the gathered pair values to the subclass. Like PML
 * it returns the zero loss when every index tensor has at most one element.
 */
public abstract class GenericPairLoss extends BaseMetricLossFunction {
  private final boolean matBasedLoss;

  protected GenericPairLoss(boolean matBasedLoss, LossOptions options) {
    super(options);
    this.matBasedLoss = matBasedLoss;
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsOrIndicesTupleRequired(labels, indicesTuple);
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
}
