package org.pml4j.losses;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Owned;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code DynamicSoftMarginLoss} (Zhang et al., ICCV 2019, "CDF-based dynamic soft margin"): each value
 * {@code x = d_ap - d_an} is weighted by the empirical CDF of all such values seen so far, {@code loss =
 * mean(CDF(bin(x)) * x)}.
 *
 * <p>The CDF comes from a histogram {@code hist_} of {@code numBins} bins of width {@code delta = 2|minVal|/numBins}
 * starting at {@code minVal}. It is state: every call first updates it from the current batch with linear
 * interpolation between the two neighbouring bins, {@code hist = (1 - momentum) * hist + momentum * batchHist} (with
 * momentum 1 while the histogram is still empty), renormalises it to sum 1, and then weighs the batch.
 *
 * <p>With labels the values come from all triplets (or the triplets / pairs of {@code indicesTuple}); without labels
 * {@code embeddings[i]} and {@code refEmb[i]} are a matched pair, the positive distance is the diagonal of the
 * distance matrix and the negative distance the smallest off-diagonal entry of row i or column i (the tuple is then
 * ignored, as in PML).
 *
 * <p>Differences from PML 2.8.1, all on paths where PML raises:
 * <ul>
 *   <li>PML keeps the histogram's autograd graph from one call to the next, so {@code backward()} fails from the
 *       second call on (PML issue #731). Here the gradient flows through the histogram update within one call (as in
 *       PML) but the stored histogram is detached, so every call can be back-propagated; the values are PML's.</li>
 *   <li>PML's labels-free path fills the diagonal of the distance matrix in place, which breaks {@code backward()};
 *       here it is computed out of place, with the same forward value.</li>
 *   <li>PML indexes past its histogram when some {@code x >= minVal + delta * (numBins - 1)} (or {@code x < minVal});
 *       this port raises an {@link IllegalStateException} saying so, before touching the state.</li>
 * </ul>
 *
 * <p>Distance: {@link LpDistance} with p = 2 and normalized embeddings (required). Default reducer: MeanReducer, which
 * leaves the already-reduced loss as is.
 */
public class DynamicSoftMarginLoss extends BaseMetricLossFunction implements StatefulLoss, Owned {
  private final double minVal;
  private final int numBins;
  private final double delta;
  private final double momentum;
  private Tensor hist;

  /** PML's default {@code min_val}: the low end of the histogram. */
  public static final double DEFAULT_MIN_VAL = -2.0;
  /** PML's default {@code num_bins}. */
  public static final int DEFAULT_NUM_BINS = 10;
  /** PML's default {@code momentum}: of the histogram update. */
  public static final double DEFAULT_MOMENTUM = 0.01;

  /** PML's defaults: {@link #DEFAULT_MIN_VAL}, {@link #DEFAULT_NUM_BINS}, {@link #DEFAULT_MOMENTUM}. */
  public DynamicSoftMarginLoss() {
    this(DEFAULT_MIN_VAL, DEFAULT_NUM_BINS, DEFAULT_MOMENTUM, LossOptions.defaults());
  }

  /**
   * @param minVal the lower end of the histogram's range for {@code d_ap - d_an}
   * @param numBins number of equal bins of width {@code 2|minVal|/numBins}
   * @param momentum weight of the current batch's histogram in the running histogram
   * @param options distance (LpDistance with p = 2 and normalized embeddings only), reducer, regularizer
   * @throws IllegalArgumentException for another distance, {@code numBins < 1} or {@code minVal == 0}
   */
  public DynamicSoftMarginLoss(double minVal, int numBins, double momentum, LossOptions options) {
    super(options);
    requireDistance(LpDistance.class, null, true);
    if (distance.p() != 2) {
      throw new IllegalArgumentException("DynamicSoftMarginLoss requires distance.p == 2, got " + distance.p());
    }
    if (numBins < 1) {
      throw new IllegalArgumentException("num_bins must be >= 1, got " + numBins);
    }
    if (minVal == 0 || !Double.isFinite(minVal)) {
      throw new IllegalArgumentException("min_val must be finite and non-zero (the bin width is 2|min_val|/num_bins),"
          + " got " + minVal);
    }
    this.minVal = minVal;
    this.numBins = numBins;
    this.delta = 2 * Math.abs(minVal) / numBins;
    this.momentum = momentum;
    resetHistogram();
  }

  /** Empties the histogram (zeros, float32), as a freshly built PML loss. */
  public final void resetHistogram() {
    try (NoGradGuard g = new NoGradGuard()) {
      hist = natives.replace(hist, torch.zeros(numBins));
    }
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    // PML: hist_ = hist_.to(embeddings' device and dtype). The stored copy is detached (see the class comment).
    Tensor h = hist.to(embeddings.device(), Tensors.dtype(embeddings));
    Tensor x = labels == null
        ? valuesWithoutLabels(embeddings, refEmb)
        : valuesWithLabels(embeddings, labels, indicesTuple, refEmb, refLabels);
    if (Tensors.len(x) == 0) {
      hist = natives.replace(hist, h.detach());
      return zeroLosses();
    }
    Tensor scaled = x.sub(Tensors.s(minVal)).div(Tensors.s(delta));
    Tensor idx = torch.floor(scaled).to(ScalarType.Long);
    checkBins(idx, x);
    Tensor alpha = torch.frac(scaled);
    double m = h.sum().item_double() != 0 ? momentum : 1.0;
    Tensor updated = h.mul(Tensors.s(1.0 - m))
        .scatter_add(0, idx, torch.rsub(alpha, Tensors.s(1.0)).mul(Tensors.s(m)));
    updated = updated.scatter_add(0, idx.add(Tensors.s(1L)), alpha.mul(Tensors.s(m)));
    updated = updated.div(updated.sum());
    hist = natives.replace(hist, updated.detach());
    // weigh_loss: CDF of the updated histogram (gradient flows through it within this call, as in PML).
    Tensor cdf = torch.cumsum(updated, 0);
    Tensor loss = Tensors.index(cdf, idx).mul(x).mean();
    return LossDict.of("loss", LossInfo.reduced(loss));
  }

  /** {@code d_ap - d_an} over the triplets from the labels or the tuple. */
  private Tensor valuesWithLabels(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    // PML uses all triplets (not one per anchor) to be deterministic.
    IndicesTuple t = Lmu.convertToTriplets(indicesTuple, labels, refLabels, null);
    Tensor mat = distance.forward(embeddings, refEmb);
    return Tensors.index2(mat, t.get(0), t.get(1)).sub(Tensors.index2(mat, t.get(0), t.get(2)));
  }

  /**
   * Matched pairs {@code (embeddings[i], refEmb[i])}: positive = diagonal, negative = the smallest other entry of row i
   * or column i. Vectors are padded with zeros to {@code max(r, c)} as in PML.
   */
  private Tensor valuesWithoutLabels(Tensor embeddings, Tensor refEmb) {
    if (refEmb.size(0) == 0) {
      // PML's per-row min over an empty reference fails ("Expected reduction dim 1 to have non-zero size").
      throw new IllegalArgumentException("DynamicSoftMarginLoss without labels pairs embeddings[i] with ref_emb[i]: "
          + "ref_emb must not be empty (got shape " + Tensors.shapeString(refEmb) + ")");
    }
    Tensor mat = distance.forward(embeddings, refEmb);
    long r = mat.size(0);
    long c = mat.size(1);
    long big = Math.max(r, c);
    Tensor dPos = pad(torch.diagonal(mat), big);
    // PML: mat.fill_diagonal_(np.inf) (a real infinity); out of place here so that backward works.
    Tensor eye = torch.eye(r, c, Tensors.options(ScalarType.Bool, mat));
    Tensor masked = mat.masked_fill(eye, Tensors.s(Double.POSITIVE_INFINITY));
    Tensor minA = pad(masked.min(0).get0(), big);
    Tensor minP = pad(masked.min(1).get0(), big);
    return dPos.sub(torch.minimum(minA, minP));
  }

  private static Tensor pad(Tensor v, long n) {
    long k = v.size(0);
    return k == n ? v : Tensors.cat(0, v, Tensors.zeros(v, n - k));
  }

  /** Rejects values whose bin (or the next one, used by the interpolation) lies outside the histogram. */
  private void checkBins(Tensor idx, Tensor x) {
    long lo = idx.min().item_long();
    long hi = idx.max().item_long();
    if (lo < 0 || hi + 1 > numBins - 1) {
      double xmin = x.min().item_double();
      double xmax = x.max().item_double();
      throw new IllegalStateException("DynamicSoftMarginLoss: d_ap - d_an ranges over [" + xmin + ", " + xmax
          + "], but the histogram (min_val=" + minVal + ", num_bins=" + numBins + ", bin width " + delta
          + ") only covers [" + minVal + ", " + (minVal + delta * (numBins - 1)) + "): the interpolation needs"
          + " histogram index " + (lo < 0 ? lo : hi + 1) + ", valid indices are 0.." + (numBins - 1)
          + ". PML 2.8.1 fails with an index error here; a more negative min_val widens the range (e.g. -2.5"
          + " covers [-2.5, 2.0)). The histogram was left unchanged.");
    }
  }

  /** {@code {"hist_": copy of the histogram}} (the embeddings' dtype after the first call, float32 before). */
  @Override
  public Map<String, Object> stateSnapshot() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("hist_", hist.detach().clone());
    return m;
  }

  /** A detached copy of the current histogram. */
  public Tensor histogram() {
    return hist.detach().clone();
  }

  public double minVal() {
    return minVal;
  }

  public int numBins() {
    return numBins;
  }

  /** The bin width {@code 2|minVal|/numBins}. */
  public double delta() {
    return delta;
  }

  public double momentum() {
    return momentum;
  }

  /** Registry factory: {@code min_val}, {@code num_bins}, {@code momentum}, common kwargs. */
  public static DynamicSoftMarginLoss fromSpec(Params p) {
    return new DynamicSoftMarginLoss(p.getDouble("min_val", DEFAULT_MIN_VAL), p.getInt("num_bins", DEFAULT_NUM_BINS),
        p.getDouble("momentum", DEFAULT_MOMENTUM), LossOptions.fromSpec(p, false));
  }

  // ---------------------------------------------------------------- native lifetimes

  /**
   * The owner of the histogram: a trainer adopts it, so closing the trainer frees them.
   */
  private final Owner natives = new Owner();

  @Override
  public final Owner natives() {
    return natives;
  }
}
