package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code FastAPLoss} (Cakir et al., CVPR 2019): a differentiable approximation of average precision per anchor,
 * from soft histograms of the distances to its positives and negatives.
 *
 * <p>The distance range {@code [0, 2^power]} is covered by {@code numBins + 1} evenly spaced centres; each distance
 * contributes to its two nearest centres with triangular weights {@code relu(1 - |d - c| / binWidth)}. With {@code h+}
 * and {@code H+} the positive histogram and its cumulative sum and {@code H} the cumulative histogram of all pairs,
 * {@code FastAP = sum_bins(h+ * H+ / H) / N+}, and the loss per anchor with at least one positive is
 * {@code (1 - FastAP) * w}, where {@code w} is the anchor's weight from {@code indicesTuple} (count / max count; 1
 * without a tuple). The pairs are always all pairs from the labels; the tuple only weighs anchors.
 *
 * <p>Labels required; no reference set. Distance: {@link LpDistance} with p = 2 and normalized embeddings (default
 * {@code power = 2}, squared distances). Default reducer: MeanReducer over the anchors with positives.
 */
public class FastAPLoss extends BaseMetricLossFunction {
  private final int numBins;

  /** PML's default {@code num_bins}. */
  public static final int DEFAULT_NUM_BINS = 10;

  /** PML's default: {@link #DEFAULT_NUM_BINS}. */
  public FastAPLoss() {
    this(DEFAULT_NUM_BINS, LossOptions.defaults());
  }

  /**
   * @param numBins number of histogram bins (there are {@code numBins + 1} bin centres)
   * @param options distance (LpDistance, p = 2, normalized; default power 2), reducer, regularizer
   * @throws IllegalArgumentException for another distance or {@code numBins < 1}
   */
  public FastAPLoss(int numBins, LossOptions options) {
    super(options);
    requireDistance(LpDistance.class, null, true);
    if (distance.p() != 2) {
      throw new IllegalArgumentException("FastAPLoss requires distance.p == 2, got " + distance.p());
    }
    if (numBins < 1) {
      throw new IllegalArgumentException("num_bins must be >= 1, got " + numBins);
    }
    this.numBins = numBins;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new LpDistance(true, 2, 2);
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    Tensor minerWeights = Lmu.convertToWeights(indicesTuple, labels, Tensors.dtype(embeddings), false);
    long n = labels.size(0);
    IndicesTuple pairs = Lmu.allPairsIndices(labels, labels);
    Tensor iPos = Tensors.zeros(embeddings, n, n);
    Tensor iNeg = Tensors.zeros(embeddings, n, n);
    Tensors.put2(iPos, pairs.get(0), pairs.get(1), 1.0);
    Tensors.put2(iNeg, pairs.get(2), pairs.get(3), 1.0);
    Tensor nPos = iPos.sum(1);
    Tensor safeN = nPos.gt(Tensors.s(0.0));
    if (!safeN.any().item_bool()) {
      return zeroLosses();
    }
    Tensor distMat = distance.forward(embeddings);

    double histogramMax = Math.pow(2, distance.power());
    double histogramDelta = histogramMax / numBins;
    Tensor midPoints = torch.linspace(Tensors.s(0.0), Tensors.s(histogramMax), numBins + 1,
        Tensors.options(Tensors.dtype(embeddings), embeddings)).view(-1, 1, 1);
    // [bins+1, N, N]: triangular kernel of every distance around every bin centre
    Tensor pulse = torch.relu(torch.rsub(distMat.sub(midPoints).abs().div(Tensors.s(histogramDelta)),
        Tensors.s(1.0)));
    Tensor posHist = pulse.mul(iPos).sum(2).t();
    Tensor negHist = pulse.mul(iNeg).sum(2).t();

    Tensor totalPosHist = torch.cumsum(posHist, 1);
    Tensor totalHist = torch.cumsum(posHist.add(negHist), 1);

    Tensor hPosProduct = posHist.mul(totalPosHist);
    Tensor safeH = hPosProduct.gt(Tensors.s(0.0)).logical_and(totalHist.gt(Tensors.s(0.0)));
    if (!safeH.any().item_bool()) {
      return zeroLosses();
    }
    Tensor fastAp = Tensors.zeros(posHist, posHist.size(0), posHist.size(1));
    Tensors.put(fastAp, safeH, Tensors.index(hPosProduct, safeH).div(Tensors.index(totalHist, safeH)));
    fastAp = fastAp.sum(1);
    fastAp = Tensors.index(fastAp, safeN).div(Tensors.index(nPos, safeN));
    fastAp = torch.rsub(fastAp, Tensors.s(1.0)).mul(Tensors.index(minerWeights, safeN));
    return LossDict.of("loss", LossInfo.element(fastAp, Tensors.where(safeN)[0]));
  }

  public int numBins() {
    return numBins;
  }

  /** Registry factory: {@code num_bins}, common kwargs. */
  public static FastAPLoss fromSpec(Params p) {
    return new FastAPLoss(p.getInt("num_bins", DEFAULT_NUM_BINS), LossOptions.fromSpec(p, false));
  }
}
