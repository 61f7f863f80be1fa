package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code HistogramLoss} (Ustinova and Lempitsky, NeurIPS 2016): the probability that a random negative pair is
 * more similar than a random positive pair, estimated from two soft histograms over {@code [-1, 1]}.
 *
 * <p>The positive pairs {@code (a, p)} and negative pairs {@code (a, n)} are taken from all triplets of the labels (or
 * the tuple), as unordered, de-duplicated pairs. Each similarity {@code s} adds to the two nodes {@code r} and
 * {@code r + 1} of its bin {@code r = floor((s + 1) / delta)} with linear-interpolation weights; the histograms are
 * divided by the number of pairs. Loss = {@code sum(pNeg * cumsum(pPos))}.
 *
 * <p>Like PML, the bin index is computed in float32 even for float64 inputs (PML: {@code distances.float()}), and so is
 * {@code r * delta} (an int64 tensor times a Python float). Similarities must lie in {@code [-1, 1)}: a value outside
 * raises an {@link IllegalStateException} (PML fails with an index error).
 *
 * <p>Labels or tuple required; no reference set. Default distance: {@link CosineSimilarity} (not enforced, as in
 * PML). Default reducer: MeanReducer (the loss is already reduced).
 */
public class HistogramLoss extends BaseMetricLossFunction {
  private final double delta;
  private final int numNodes;

  /** PML's number of bins when neither {@code n_bins} nor {@code delta} is given. */
  public static final int DEFAULT_N_BINS = 100;

  /** PML's default: {@link #DEFAULT_N_BINS} bins. */
  public HistogramLoss() {
    this(null, null, LossOptions.defaults());
  }

  /**
   * @param nBins number of bins over {@code [-1, 1]}, or null
   * @param delta bin width, or null; when both are given they must satisfy {@code delta == 2 / nBins}; when both are
   *     null, {@link #DEFAULT_N_BINS} bins
   * @param options distance (default CosineSimilarity), reducer, regularizer
   * @throws IllegalArgumentException when {@code delta != 2 / nBins}, or for a non-positive value
   */
  public HistogramLoss(Integer nBins, Double delta, LossOptions options) {
    super(options);
    if (delta != null && nBins != null && delta != 2.0 / nBins) {
      throw new IllegalArgumentException("delta and n_bins must satisfy the equation delta = 2/n_bins.\nPassed values"
          + " are delta=" + delta + " and n_bins=" + nBins);
    }
    if (nBins != null && nBins < 1) {
      throw new IllegalArgumentException("n_bins must be >= 1, got " + nBins);
    }
    if (delta != null && !(delta > 0 && delta <= 2)) {
      throw new IllegalArgumentException("delta must be in (0, 2], got " + delta);
    }
    if (delta == null && nBins == null) {
      nBins = DEFAULT_N_BINS;
    }
    this.delta = delta != null ? delta : 2.0 / nBins;
    this.numNodes = (int) Math.rint(1 + 2 / this.delta);
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsOrIndicesTupleRequired(labels, indicesTuple);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    IndicesTuple t = Lmu.convertToTriplets(indicesTuple, labels, refLabels, null);
    if (Tensors.len(t.get(0)) == 0) {
      return zeroLosses();
    }
    Tensor mat = distance.forward(embeddings, refEmb);
    Tensor[] ap = filterPairs(t.get(0), t.get(1));
    Tensor[] an = filterPairs(t.get(0), t.get(2));
    Tensor apDists = Tensors.index2(mat, ap[0], ap[1]);
    Tensor anDists = Tensors.index2(mat, an[0], an[1]);
    Tensor pPos = computeDensity(apDists);
    Tensor phi = torch.cumsum(pPos, 0);
    Tensor pNeg = computeDensity(anDists);
    return LossDict.of("loss", LossInfo.reduced(pNeg.mul(phi).sum()));
  }

  /** Unordered unique pairs: each column of {@code [i; j]} sorted, then the distinct columns in sorted order. */
  private static Tensor[] filterPairs(Tensor i, Tensor j) {
    Tensor stacked = Tensors.stack(0, i, j);
    Tensor sorted = stacked.sort(0, false).get0();
    Tensor uniq = torch.unique_dim(sorted, 1, true, false, false).get0();
    return new Tensor[] {uniq.select(0, 0), uniq.select(0, 1)};
  }

  /** The interpolated histogram of {@code distances} over the nodes {@code -1, -1 + delta, ..., 1}, divided by N. */
  private Tensor computeDensity(Tensor distances) {
    long size = distances.size(0);
    ScalarType dt = Tensors.dtype(distances);
    // PML: floor((distances.float() + 1) / delta) in float32, then int64.
    Tensor rStar = torch.floor(distances.detach().to(ScalarType.Float).add(Tensors.s(1.0)).div(Tensors.s(delta)))
        .to(ScalarType.Long);
    long lo = rStar.min().item_long();
    long hi = rStar.max().item_long();
    if (lo < 0 || hi + 1 > numNodes - 1) {
      throw new IllegalStateException("HistogramLoss: similarities must lie in [-1, 1), got values in ["
          + distances.min().item_double() + ", " + distances.max().item_double() + "] (bins " + lo + ".." + (hi + 1)
          + " of " + numNodes + " nodes); use CosineSimilarity. PML 2.8.1 fails with an index error here.");
    }
    // PML: r_star * delta and (r_star + 1) * delta - 1 are int64 tensors times a Python float, i.e. float32.
    Tensor rDelta = rStar.to(ScalarType.Float).mul(Tensors.s(delta));
    Tensor r1DeltaMinus1 = rStar.add(Tensors.s(1L)).to(ScalarType.Float).mul(Tensors.s(delta)).sub(Tensors.s(1.0));
    Tensor a = distances.add(Tensors.s(1.0)).sub(rDelta.to(dt)).div(Tensors.s(delta));
    Tensor b = r1DeltaMinus1.to(dt).sub(distances).div(Tensors.s(delta));
    Tensor density = Tensors.zeros(distances, numNodes);
    // each node sums the contributions of the bins ending at it, then of the bins starting at it
    density = density.scatter_add(0, rStar.add(Tensors.s(1L)), a);
    density = density.scatter_add(0, rStar, b);
    return density.div(Tensors.s((double) size));
  }

  /** The bin width {@code 2 / nBins}. */
  public double delta() {
    return delta;
  }

  /** Registry factory: {@code n_bins}, {@code delta}, common kwargs. */
  public static HistogramLoss fromSpec(Params p) {
    return new HistogramLoss(p.getIntOrNull("n_bins"), p.getDoubleOrNull("delta"), LossOptions.fromSpec(p, false));
  }
}
