package org.pml4j.miners;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code DistanceWeightedMiner} ("Sampling Matters in Deep Embedding Learning"): negatives are sampled with
 * probability proportional to the inverse of the density of distances on the unit sphere,
 * {@code log w = (2 − D)·log d − ((D − 3)/2)·log(1 − d²/4)} with {@code d} clamped below at {@code cutoff}; same-class
 * entries, entries with {@code d >= nonzeroLossCutoff} and non-finite log-weights get weight 0. Triplets are then drawn
 * by {@link Lmu#randomTripletIndices} (each anchor gets as many random positives as its class has, and one weighted
 * negative each; anchors whose weights are all zero are skipped). Randomized: uses LibTorch's global generator. The
 * distance must be {@code LpDistance(p=2, power=1, normalize_embeddings=True)}.
 */
public class DistanceWeightedMiner extends BaseMiner {
  private final double cutoff;
  private final double nonzeroLossCutoff;

  /** PML's default {@code cutoff}: distances below it count as this value. */
  public static final double DEFAULT_CUTOFF = 0.5;
  /** PML's default {@code nonzero_loss_cutoff}: negatives at or beyond it are not drawn. */
  public static final double DEFAULT_NONZERO_LOSS_CUTOFF = 1.4;

  /** PML's defaults: {@link #DEFAULT_CUTOFF}, {@link #DEFAULT_NONZERO_LOSS_CUTOFF}, LpDistance. */
  public DistanceWeightedMiner() {
    this(DEFAULT_CUTOFF, DEFAULT_NONZERO_LOSS_CUTOFF, null);
  }

  /**
   * @param cutoff distances are clamped below at this value (limits the variance of the weights)
   * @param nonzeroLossCutoff negatives at or beyond this distance are never sampled
   * @param distance null for the default LpDistance
   * @throws IllegalArgumentException if the distance is not LpDistance(p=2, power=1, normalize_embeddings=True)
   */
  public DistanceWeightedMiner(double cutoff, double nonzeroLossCutoff, BaseDistance distance) {
    super(distance);
    DistanceRequirements.require(getClass().getSimpleName(), this.distance, LpDistance.class, 2, 1, true);
    this.cutoff = cutoff;
    this.nonzeroLossCutoff = nonzeroLossCutoff;
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    return Lmu.randomTripletIndices(labels, refLabels, null, samplingWeights(embeddings, labels, refEmb, refLabels));
  }

  /**
   * The {@code [N, M]} negative-sampling weight matrix (each row normalized to sum 1; rows without any admissible
   * negative are NaN, as in PML, and are skipped by the sampler).
   */
  protected Tensor samplingWeights(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    ScalarType dtype = Tensors.dtype(embeddings);
    double d = embeddings.size(1);
    Tensor mat = distance.forward(embeddings, refEmb).clamp_min(Tensors.s(cutoff));
    Tensor logWeights = mat.log().mul(Tensors.s(2.0 - d)).sub(
        torch.rsub(mat.pow(Tensors.s(2.0)).mul(Tensors.s(0.25)), Tensors.s(1.0)).log().mul(Tensors.s((d - 3) / 2)));
    Tensor infOrNan = logWeights.isinf().logical_or(logWeights.isnan());
    Tensor sameClass = labels.unsqueeze(1).eq(refLabels.unsqueeze(0));
    Tensor mask = torch.ones_like(logWeights).masked_fill(sameClass, Tensors.s(0.0));
    logWeights = logWeights.mul(mask);
    Tensor finite = Tensors.index(logWeights, infOrNan.logical_not());
    if (finite.numel() == 0) {
      throw new IllegalArgumentException(
          "DistanceWeightedMiner: every log-weight is infinite or NaN (all distances are 2 or more apart)");
    }
    Tensor weights = logWeights.sub(finite.max()).exp();
    weights = weights.mul(mask).mul(mat.lt(Tensors.s(nonzeroLossCutoff)).to(dtype));
    weights = weights.masked_fill(infOrNan, Tensors.s(0.0));
    return weights.div(weights.sum(new long[] {1}, true, new ScalarTypeOptional()));
  }

  public double cutoff() {
    return cutoff;
  }

  public double nonzeroLossCutoff() {
    return nonzeroLossCutoff;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(cutoff=" + cutoff + ", nonzero_loss_cutoff=" + nonzeroLossCutoff
        + ", distance=" + distance + ")";
  }

  /** Registry factory: {@code cutoff}, {@code nonzero_loss_cutoff}, {@code distance}, {@code collect_stats}. */
  public static DistanceWeightedMiner fromSpec(Params p) {
    double cutoff = p.getDouble("cutoff", DEFAULT_CUTOFF);
    double nz = p.getDouble("nonzero_loss_cutoff", DEFAULT_NONZERO_LOSS_CUTOFF);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new DistanceWeightedMiner(cutoff, nz, d);
  }
}
