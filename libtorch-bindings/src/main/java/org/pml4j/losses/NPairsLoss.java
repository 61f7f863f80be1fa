package org.pml4j.losses;

import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.DotProductSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code NPairsLoss} (Sohn, NeurIPS 2016): one positive pair per distinct anchor label (the first in
 * {@code torch.where} order, from the labels or the given tuple), then a softmax cross-entropy over the
 * anchors × positives similarity matrix whose targets are its diagonal: each anchor must be closer to its own
 * positive than to the other labels' positives. For a non-inverted distance the matrix is negated. Default distance:
 * {@link DotProductSimilarity} (which L2-normalizes by default). No positive pair gives a zero loss.
 *
 * <p>Labels are required; a reference set is not supported.
 */
public class NPairsLoss extends BaseMetricLossFunction {
  /** PML's defaults (DotProductSimilarity, MeanReducer). */
  public NPairsLoss() {
    this(LossOptions.defaults());
  }

  /** @param options distance (default DotProductSimilarity), reducer (default MeanReducer), embedding regularizer */
  public NPairsLoss(LossOptions options) {
    super(options);
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new DotProductSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    Tensor[] ap = posPairsWithUniqueLabels(indicesTuple, labels);
    Tensor anchorIdx = ap[0];
    Tensor positiveIdx = ap[1];
    long numPairs = Tensors.len(anchorIdx);
    if (numPairs == 0) {
      return zeroLosses();
    }
    Tensor anchors = Tensors.index(embeddings, anchorIdx);
    Tensor positives = Tensors.index(embeddings, positiveIdx);
    Tensor targets = Tensors.arange(numPairs, embeddings);
    Tensor simMat = distance.forward(anchors, positives);
    if (!distance.isInverted()) {
      simMat = simMat.neg();
    }
    Tensor losses = LargeMarginSoftmaxLoss.crossEntropy(simMat, targets);
    return LossDict.of("loss", LossInfo.element(losses, anchorIdx));
  }

  /**
   * PML's {@code convert_to_pos_pairs_with_unique_labels}: the positive pairs of the tuple (all of them when null),
   * keeping for each distinct anchor label the first pair, ordered by label
   * ({@code np.unique(..., return_index=True)}).
   */
  static Tensor[] posPairsWithUniqueLabels(IndicesTuple indicesTuple, Tensor labels) {
    IndicesTuple pairs = Lmu.convertToPairs(indicesTuple, labels, labels);
    Tensor a = pairs.get(0);
    Tensor p = pairs.get(1);
    long[] anchorLabels = Tensors.toLongs(Tensors.index(labels, a));
    Map<Long, Long> first = new TreeMap<>();
    for (int i = 0; i < anchorLabels.length; i++) {
      first.putIfAbsent(anchorLabels[i], (long) i);
    }
    long[] keep = new long[first.size()];
    int j = 0;
    for (long i : first.values()) {
      keep[j++] = i;
    }
    Tensor idx = Tensors.longs(keep).to(a.device(), org.bytedeco.pytorch.global.torch.ScalarType.Long);
    return new Tensor[] {Tensors.index(a, idx), Tensors.index(p, idx)};
  }

  /** Registry factory: the common kwargs only. */
  public static NPairsLoss fromSpec(Params p) {
    return new NPairsLoss(LossOptions.fromSpec(p, false));
  }
}
