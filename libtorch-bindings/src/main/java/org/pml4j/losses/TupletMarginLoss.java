package org.pml4j.losses;

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
 * anchor. {@code margin} is in degrees. As in PML, {@code acos} is not clamped: a cosine that rounds above 1 gives NaN.
 *
 * <p>The distance must be a {@link CosineSimilarity} (the default). Sub-loss {@code loss}, reduction {@code pos_pair},
 * default {@link org.pml4j.reducers.MeanReducer}; the zero loss when there are no positive or no negative pairs.
 */
public class TupletMarginLoss extends GenericPairLoss {
  private final double margin;
  private final double scale;

  /** PML's defaults: margin 5.73 degrees, scale 64. */
  public TupletMarginLoss() {
    this(5.73, 64, LossOptions.defaults());
  }

  /**
   * @param margin angular margin, in degrees
   * @param scale multiplies the cosine differences in the exponent
   * @param options distance (must be a CosineSimilarity; default one), reducer, embedding regularizer
   * @throws IllegalArgumentException for another distance
   */
  public TupletMarginLoss(double margin, double scale, LossOptions options) {
    super(false, options);
    requireDistance(CosineSimilarity.class, null, null);
    this.margin = margin;
    this.scale = scale;
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
    Tensor posAngles = posPairs.acos();
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

  /** Registry factory: {@code margin} (degrees), {@code scale}, common kwargs. */
  public static TupletMarginLoss fromSpec(Params p) {
    return new TupletMarginLoss(p.getDouble("margin", 5.73), p.getDouble("scale", 64), p.lossOptions(false));
  }
}
