package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code MultiSimilarityLoss} (Wang et al., 2019). Per anchor row {@code i}:
 *
 * <pre>
 *   (1/alpha) * log(1 + sum_{p in P(i)} exp(alpha * margin(S_ip, base)))
 * + (1/beta)  * log(1 + sum_{n in N(i)} exp(beta  * margin(base, S_in)))
 * </pre>
 *
 * where {@code margin} follows the distance's direction (for the default {@link CosineSimilarity} the positive
 * exponent is {@code -alpha (S - base)} and the negative one {@code beta (S - base)}). Rows without positives (or
 * negatives) contribute 0 to that term. Mat-based {@link GenericPairLoss}: accepts labels or any tuple, and a
 * reference set. One {@code element} sub-loss per anchor row (shape {@code [N, 1]}, as PML), reduced by the
 * {@link org.pml4j.reducers.MeanReducer} by default.
 */
public class MultiSimilarityLoss extends GenericPairLoss {
  private final double alpha;
  private final double beta;
  private final double base;

  /** PML's default {@code alpha}: the positive scale. */
  public static final double DEFAULT_ALPHA = 2;
  /** PML's default {@code beta}: the negative scale. */
  public static final double DEFAULT_BETA = 50;
  /** PML's default {@code base}: the similarity offset. */
  public static final double DEFAULT_BASE = 0.5;

  /** PML's defaults: {@link #DEFAULT_ALPHA}, {@link #DEFAULT_BETA}, {@link #DEFAULT_BASE}. */
  public MultiSimilarityLoss() {
    this(DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_BASE, LossOptions.defaults());
  }

  /**
   * @param alpha exponential weight of the positive pairs
   * @param beta exponential weight of the negative pairs
   * @param base shift of the similarity in both exponents
   * @param options distance (default {@link CosineSimilarity}), reducer (default MeanReducer), regularizer
   */
  public MultiSimilarityLoss(double alpha, double beta, double base, LossOptions options) {
    super(true, options);
    this.alpha = alpha;
    this.beta = beta;
    this.base = base;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeMatLoss(Tensor mat, Tensor posMask, Tensor negMask) {
    Tensor posExp = distance.margin(mat, base);
    Tensor negExp = distance.margin(base, mat);
    Tensor posLoss = Lmu.logsumexp(posExp.mul(Tensors.s(alpha)), posMask.to(ScalarType.Bool), true, 1)
        .mul(Tensors.s(1.0 / alpha));
    Tensor negLoss = Lmu.logsumexp(negExp.mul(Tensors.s(beta)), negMask.to(ScalarType.Bool), true, 1)
        .mul(Tensors.s(1.0 / beta));
    return LossDict.of("loss", LossInfo.element(posLoss.add(negLoss), Tensors.arange(mat.size(0), mat)));
  }

  public double alpha() {
    return alpha;
  }

  public double beta() {
    return beta;
  }

  public double base() {
    return base;
  }

  /** Registry factory: {@code alpha}, {@code beta}, {@code base}, common kwargs. */
  public static MultiSimilarityLoss fromSpec(Params p) {
    return new MultiSimilarityLoss(p.getDouble("alpha", DEFAULT_ALPHA), p.getDouble("beta", DEFAULT_BETA),
        p.getDouble("base", DEFAULT_BASE),
        LossOptions.fromSpec(p, false));
  }
}
