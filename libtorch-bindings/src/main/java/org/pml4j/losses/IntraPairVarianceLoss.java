package org.pml4j.losses;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code IntraPairVarianceLoss} (Yu et al., "Deep Metric Learning with Tuplet Margin Loss"). With a similarity
 * (the default {@link CosineSimilarity}) and {@code mu_p}, {@code mu_n} the means over <em>all</em> positive
 * (negative) pairs of the batch: positive pairs pay {@code relu((1 - posEps) mu_p - s)^2}, negative pairs
 * {@code relu(s - (1 + negEps) mu_n)^2}; with a distance the directions swap. Two sub-losses, {@code pos_loss}
 * ({@code pos_pair}) and {@code neg_loss} ({@code neg_pair}), each reduced by the reducer (default
 * {@link org.pml4j.reducers.MeanReducer}) and summed.
 */
public class IntraPairVarianceLoss extends GenericPairLoss {
  private final double posEps;
  private final double negEps;

  /** PML's default {@code pos_eps}. */
  public static final double DEFAULT_POS_EPS = 0.01;
  /** PML's default {@code neg_eps}. */
  public static final double DEFAULT_NEG_EPS = 0.01;

  /** PML's defaults: {@link #DEFAULT_POS_EPS}, {@link #DEFAULT_NEG_EPS}. */
  public IntraPairVarianceLoss() {
    this(DEFAULT_POS_EPS, DEFAULT_NEG_EPS, LossOptions.defaults());
  }

  /**
   * @param posEps relative slack around the mean positive similarity
   * @param negEps relative slack around the mean negative similarity
   * @param options distance (default CosineSimilarity), reducer, embedding regularizer
   */
  public IntraPairVarianceLoss(double posEps, double negEps, LossOptions options) {
    super(false, options);
    this.posEps = posEps;
    this.negEps = negEps;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected List<String> baseSubLossNames() {
    return List.of("pos_loss", "neg_loss");
  }

  @Override
  protected LossDict computePairLoss(Tensor posPairs, Tensor negPairs, IndicesTuple pairs) {
    LossDict d = new LossDict();
    if (posPairs == null) {
      d.put("pos_loss", LossInfo.zero());
    } else {
      Tensor var = varianceWithEps(posPairs, posPairs.mean(), posEps, distance.isInverted());
      d.put("pos_loss", new LossInfo(torch.relu(var).pow(Tensors.s(2.0)), new Tensor[] {pairs.get(0), pairs.get(1)},
          ReductionType.POS_PAIR));
    }
    if (negPairs == null) {
      d.put("neg_loss", LossInfo.zero());
    } else {
      Tensor var = varianceWithEps(negPairs, negPairs.mean(), negEps, !distance.isInverted());
      d.put("neg_loss", new LossInfo(torch.relu(var).pow(Tensors.s(2.0)), new Tensor[] {pairs.get(2), pairs.get(3)},
          ReductionType.NEG_PAIR));
    }
    return d;
  }

  private static Tensor varianceWithEps(Tensor pairs, Tensor mean, double eps, boolean incentivizeIncrease) {
    if (incentivizeIncrease) {
      return mean.mul(Tensors.s(1 - eps)).sub(pairs);
    }
    return pairs.sub(mean.mul(Tensors.s(1 + eps)));
  }

  public double posEps() {
    return posEps;
  }

  public double negEps() {
    return negEps;
  }

  /** Registry factory: {@code pos_eps}, {@code neg_eps}, common kwargs. */
  public static IntraPairVarianceLoss fromSpec(Params p) {
    return new IntraPairVarianceLoss(p.getDouble("pos_eps", DEFAULT_POS_EPS), p.getDouble("neg_eps", DEFAULT_NEG_EPS),
        LossOptions.fromSpec(p, false));
  }
}
