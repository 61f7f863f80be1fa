package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
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
 * PML's {@code SupConLoss} (supervised contrastive loss, Khosla et al., 2020). With {@code s} the similarity matrix
 * divided by the temperature (the negated distance for a non-inverted distance) and shifted by its detached row
 * maximum, each anchor row {@code i} pays
 *
 * <pre>
 *   -(1 / (|P(i)| + tiny)) * sum_{p in P(i)} ( s_ip - log sum_{j in P(i) u N(i)} exp(s_ij) )
 * </pre>
 *
 * The anchor itself is in neither set, so it is not in the denominator. Rows without positives give 0, which the
 * default {@link AvgNonZeroReducer} ignores. Mat-based {@link GenericPairLoss}: labels or any tuple, reference set
 * allowed; the zero loss unless there is at least one positive and one negative pair.
 */
public class SupConLoss extends GenericPairLoss {
  private final double temperature;

  /** PML's default {@code temperature}. */
  public static final double DEFAULT_TEMPERATURE = 0.1;

  /** PML's default: {@link #DEFAULT_TEMPERATURE}. */
  public SupConLoss() {
    this(DEFAULT_TEMPERATURE, LossOptions.defaults());
  }

  /**
   * @param temperature the softmax temperature
   * @param options distance (default {@link CosineSimilarity}), reducer (default {@link AvgNonZeroReducer}),
   *     regularizer
   */
  public SupConLoss(double temperature, LossOptions options) {
    super(true, options);
    this.temperature = temperature;
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
    boolean anyPos = posMask.to(ScalarType.Bool).any().item_bool();
    boolean anyNeg = negMask.to(ScalarType.Bool).any().item_bool();
    if (!anyPos || !anyNeg) {
      return zeroLosses();
    }
    if (!distance.isInverted()) {
      mat = mat.neg();
    }
    mat = mat.div(Tensors.s(temperature));
    Tensor matMax = mat.max(1, true).get0();
    mat = mat.sub(matMax.detach());
    Tensor denominator = Lmu.logsumexp(mat, posMask.add(negMask).to(ScalarType.Bool), false, 1);
    Tensor logProb = mat.sub(denominator);
    ScalarTypeOptional none = new ScalarTypeOptional();
    Tensor meanLogProbPos = posMask.mul(logProb).sum(new long[] {1}, false, none)
        .div(posMask.sum(new long[] {1}, false, none).add(Tensors.s(Tensors.smallVal(Tensors.dtype(mat)))));
    return LossDict.of("loss", LossInfo.element(meanLogProbPos.neg(), Tensors.arange(mat.size(0), mat)));
  }

  public double temperature() {
    return temperature;
  }

  /** Registry factory: {@code temperature}, common kwargs. */
  public static SupConLoss fromSpec(Params p) {
    return new SupConLoss(p.getDouble("temperature", DEFAULT_TEMPERATURE), LossOptions.fromSpec(p, false));
  }
}
