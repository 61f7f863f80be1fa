package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code TupletMarginLoss} (Yu et al., "Deep Metric Learning with Tuplet Margin Loss"). For every positive pair
 * {@code (a, p)} with angle {@code theta_ap}:
 * {@code log(1 + sum_n exp(scale * (cos theta_an - cos(theta_ap - margin))))} over the negative pairs sharing the
 * anchor. {@code margin} is in degrees.
 *
 * <p><b>PML 2.8.1 bug kept by default:</b> {@code acos} is not clamped, so a positive-pair cosine that rounds above 1
 * (e.g. two identical embeddings, whose normalized dot product can come out as {@code 1 + 1 ulp}) gives a NaN loss.
 * {@link #withClampCosine(boolean) withClampCosine(true)} (spec key {@code clamp_cosine}) clamps the cosines to
 * {@code [-1, 1]} before {@code acos}, as ArcFace does.
 *
 * <p>The distance must be a {@link CosineSimilarity} (the default). Sub-loss {@code loss}, reduction {@code pos_pair},
 * default {@link org.pml4j.reducers.MeanReducer}; the zero loss when there are no positive or no negative pairs.
 */
public class TupletMarginLoss extends GenericPairLoss {
  private final double margin;
  private final double scale;
  private final boolean clampCosine;

  /** PML's default {@code margin}: in degrees. */
  public static final double DEFAULT_MARGIN = 5.73;
  /** PML's default {@code scale}. */
  public static final double DEFAULT_SCALE = 64;
  /** Default {@code clamp_cosine}: off, PML 2.8.1's behaviour. */
  public static final boolean DEFAULT_CLAMP_COSINE = false;

  /** PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_SCALE}. */
  public TupletMarginLoss() {
    this(DEFAULT_MARGIN, DEFAULT_SCALE, LossOptions.defaults());
  }

  /**
   * @param margin angular margin, in degrees
   * @param scale multiplies the cosine differences in the exponent
   * @param options distance (must be a CosineSimilarity; default one), reducer, embedding regularizer
   * @throws IllegalArgumentException for another distance
   */
  public TupletMarginLoss(double margin, double scale, LossOptions options) {
    this(margin, scale, options, DEFAULT_CLAMP_COSINE);
  }

  private TupletMarginLoss(double margin, double scale, LossOptions options, boolean clampCosine) {
    super(false, options);
    requireDistance(CosineSimilarity.class, null, null);
    this.margin = margin;
    this.scale = scale;
    this.clampCosine = clampCosine;
  }

  /**
   * Beyond PML (a fix of a PML 2.8.1 bug, off by default): a copy of this loss that clamps the positive-pair cosines
   * to {@code [-1, 1]} before {@code acos}, so a cosine rounding above 1 gives angle 0 instead of NaN.
   *
   * @param fix true to clamp, false for PML's behaviour
   * @return a new loss with the same parameters and options
   */
  public TupletMarginLoss withClampCosine(boolean fix) {
    return new TupletMarginLoss(margin, scale, options, fix);
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computePairLoss(Tensor posPairs, Tensor negPairs, IndicesTuple pairs) {
    Tensor a1 = pairs.get(0);
    Tensor p = pairs.get(1);
    Tensor a2 = pairs.get(2);
    if (Tensors.len(a1) == 0 || Tensors.len(a2) == 0) {
      return zeroLosses();
    }
    // PML 2.8.1: acos without clamp (NaN for a cosine above 1); the opt-in fix clamps.
    Tensor posAngles = (clampCosine
        ? posPairs.clamp(new ScalarOptional(Tensors.s(-1.0)), new ScalarOptional(Tensors.s(1.0)))
        : posPairs).acos();
    Tensor pos = posAngles.sub(Tensors.s(Math.toRadians(margin))).cos().unsqueeze(1);
    Tensor neg = negPairs.repeat(pos.size(0), 1);
    Tensor insideExp = neg.sub(pos).mul(Tensors.s(scale));
    Tensor keepMask = a2.unsqueeze(0).eq(a1.unsqueeze(1));
    Tensor losses = Lmu.logsumexp(insideExp, keepMask, true, 1);
    return LossDict.of("loss", new LossInfo(losses, new Tensor[] {a1, p}, ReductionType.POS_PAIR));
  }

  /** The margin, in degrees. */
  public double margin() {
    return margin;
  }

  public double scale() {
    return scale;
  }

  /** Whether the cosines are clamped before {@code acos} (the fix; see {@link #withClampCosine}). */
  public boolean clampCosine() {
    return clampCosine;
  }

  /**
   * Registry factory: {@code margin} (degrees), {@code scale}, common kwargs, and beyond PML {@code clamp_cosine}
   * ({@link #DEFAULT_CLAMP_COSINE}; see {@link #withClampCosine}).
   */
  public static TupletMarginLoss fromSpec(Params p) {
    return new TupletMarginLoss(p.getDouble("margin", DEFAULT_MARGIN), p.getDouble("scale", DEFAULT_SCALE),
        LossOptions.fromSpec(p, false), p.getBool("clamp_cosine", DEFAULT_CLAMP_COSINE));
  }
}
