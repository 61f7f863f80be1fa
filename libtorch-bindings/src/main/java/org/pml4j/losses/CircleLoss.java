package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.AvgNonZeroReducer;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code CircleLoss} (Sun et al., 2020), pairwise-label form. With {@code O_p = 1 + m}, {@code O_n = -m},
 * {@code D_p = 1 - m}, {@code D_n = m} and cosine similarities {@code s}, each anchor row pays
 *
 * <pre>
 *   softplus( logsumexp_{p} (-gamma * relu(O_p - s_p) * (s_p - D_p))
 *           + logsumexp_{n} ( gamma * relu(s_n - O_n) * (s_n - D_n)) )
 * </pre>
 *
 * The weights {@code relu(..)} use detached similarities. Rows lacking a positive or a negative give 0 (ignored by
 * the default {@link AvgNonZeroReducer}). Requires a {@link CosineSimilarity}; mat-based {@link GenericPairLoss}:
 * labels or any tuple, reference set allowed.
 */
public class CircleLoss extends GenericPairLoss {
  private final double m;
  private final double gamma;
  private final double op;
  private final double on;
  private final double deltaP;
  private final double deltaN;

  /** PML's default {@code m}: the relaxation margin. */
  public static final double DEFAULT_M = 0.4;
  /** PML's default {@code gamma}: the scale. */
  public static final double DEFAULT_GAMMA = 80;

  /** PML's defaults: {@link #DEFAULT_M}, {@link #DEFAULT_GAMMA}. */
  public CircleLoss() {
    this(DEFAULT_M, DEFAULT_GAMMA, LossOptions.defaults());
  }

  /**
   * @param m relaxation factor (radius of the decision boundary)
   * @param gamma scale factor
   * @param options distance (must be a {@link CosineSimilarity}, the default), reducer (default
   *     {@link AvgNonZeroReducer}), regularizer
   * @throws IllegalArgumentException if the distance is not a CosineSimilarity
   */
  public CircleLoss(double m, double gamma, LossOptions options) {
    super(true, options);
    requireDistance(CosineSimilarity.class, null, null);
    this.m = m;
    this.gamma = gamma;
    this.op = 1 + m;
    this.on = -m;
    this.deltaP = 1 - m;
    this.deltaN = m;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected BaseReducer defaultReducer() {
    return new AvgNonZeroReducer();
  }

  @Override
  protected LossDict computeMatLoss(Tensor mat, Tensor posMask, Tensor negMask) {
    Tensor posBool = posMask.to(ScalarType.Bool);
    Tensor negBool = negMask.to(ScalarType.Bool);
    Tensor anchorPositive = Tensors.index(mat, posBool);
    Tensor anchorNegative = Tensors.index(mat, negBool);
    Tensor newMat = torch.zeros_like(mat);
    Tensor posVals = torch.relu(torch.rsub(anchorPositive.detach(), Tensors.s(op))).mul(Tensors.s(-gamma))
        .mul(anchorPositive.sub(Tensors.s(deltaP)));
    Tensor negVals = torch.relu(anchorNegative.detach().sub(Tensors.s(on))).mul(Tensors.s(gamma))
        .mul(anchorNegative.sub(Tensors.s(deltaN)));
    Tensors.put(newMat, posBool, posVals);
    Tensors.put(newMat, negBool, negVals);
    Tensor lsePos = Lmu.logsumexp(newMat, posBool, false, 1);
    Tensor lseNeg = Lmu.logsumexp(newMat, negBool, false, 1);
    Tensor losses = torch.softplus(lsePos.add(lseNeg));
    ScalarTypeOptional none = new ScalarTypeOptional();
    Tensor zeroRows = posMask.sum(new long[] {1}, false, none).eq(Tensors.s(0.0))
        .logical_or(negMask.sum(new long[] {1}, false, none).eq(Tensors.s(0.0)));
    Tensor finalMask = torch.ones_like(losses);
    Tensors.put(finalMask, Tensors.where(zeroRows)[0], 0.0);
    losses = losses.mul(finalMask);
    return LossDict.of("loss", LossInfo.element(losses, Tensors.arange(newMat.size(0), newMat)));
  }

  public double m() {
    return m;
  }

  public double gamma() {
    return gamma;
  }

  /** Registry factory: {@code m}, {@code gamma}, common kwargs. */
  public static CircleLoss fromSpec(Params p) {
    return new CircleLoss(p.getDouble("m", DEFAULT_M), p.getDouble("gamma", DEFAULT_GAMMA),
        LossOptions.fromSpec(p, false));
  }
}
