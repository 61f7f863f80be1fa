package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code NTXentLoss} (the SimCLR / InfoNCE loss). Each positive pair {@code (a, p)} is its own term:
 *
 * <pre>
 *   -log( exp(s_ap / t) / (exp(s_ap / t) + sum_{n : (a, n) negative pair} exp(s_an / t)) + tiny )
 * </pre>
 *
 * with {@code s} the similarity (the negated distance for a non-inverted distance) and {@code tiny} the dtype's
 * smallest normal number. Other positives of the same anchor are <em>not</em> in the denominator (unlike
 * {@link SupConLoss}). Pair-based {@link GenericPairLoss}: labels or any tuple, reference set allowed; a
 * {@code pos_pair} sub-loss; the zero loss when there is no positive or no negative pair.
 */
public class NTXentLoss extends GenericPairLoss {
  private final double temperature;

  /** PML's default {@code temperature}. */
  public static final double DEFAULT_TEMPERATURE = 0.07;

  /** PML's default: {@link #DEFAULT_TEMPERATURE}. */
  public NTXentLoss() {
    this(DEFAULT_TEMPERATURE, LossOptions.defaults());
  }

  /**
   * @param temperature the softmax temperature
   * @param options distance (default {@link CosineSimilarity}), reducer (default MeanReducer), regularizer
   */
  public NTXentLoss(double temperature, LossOptions options) {
    super(false, options);
    this.temperature = temperature;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computePairLoss(Tensor posPairs, Tensor negPairs, IndicesTuple pairs) {
    Tensor a1 = pairs.get(0);
    Tensor a2 = pairs.get(2);
    if (Tensors.len(a1) == 0 || Tensors.len(a2) == 0) {
      return zeroLosses();
    }
    ScalarType dtype = Tensors.dtype(negPairs);
    if (!distance.isInverted()) {
      posPairs = posPairs.neg();
      negPairs = negPairs.neg();
    }
    Tensor pos = posPairs.unsqueeze(1).div(Tensors.s(temperature));
    Tensor neg = negPairs.div(Tensors.s(temperature));
    Tensor nPerP = a2.unsqueeze(0).eq(a1.unsqueeze(1)).to(dtype);
    neg = neg.mul(nPerP);
    // PML: neg_pairs[n_per_p == 0] = finfo.min (an in-place put; masked_fill has the same value and gradient)
    neg = neg.masked_fill(nPerP.eq(Tensors.s(0.0)), Tensors.s(Tensors.negInf(dtype)));
    Tensor maxVal = torch.max(pos, neg.max(1, true).get0()).detach();
    Tensor numerator = pos.sub(maxVal).exp().squeeze(1);
    Tensor denominator = neg.sub(maxVal).exp().sum(new long[] {1}, false, new ScalarTypeOptional()).add(numerator);
    Tensor logExp = numerator.div(denominator).add(Tensors.s(Tensors.smallVal(dtype))).log();
    return LossDict.of("loss", new LossInfo(logExp.neg(), new Tensor[] {a1, pairs.get(1)}, ReductionType.POS_PAIR));
  }

  @Override
  protected boolean supportsDensePairLoss() {
    return true;
  }

  /**
   * All pairs as {@code [N, M]} matrices. With {@code x = s / t}, {@code R_i} the largest {@code x} over the row's
   * negatives (detached; the dtype's lowest value when it has none) and {@code M_ij = max(x_ij, R_i)} (PML's
   * {@code max_val}, detached), the denominator {@code sum_n exp(x_in - M_ij)} is {@code exp(R_i - M_ij) Z_i} with
   * {@code Z_i = sum_n exp(x_in - R_i)}: one pass over the matrix instead of one row of negatives per positive pair.
   */
  @Override
  protected LossDict computeDensePairLoss(Tensor mat, Tensor posMask, Tensor negMask, long numPos, long numNeg) {
    if (numPos == 0 || numNeg == 0) {
      return zeroLosses();
    }
    ScalarType dtype = Tensors.dtype(mat);
    Tensor x = (distance.isInverted() ? mat : mat.neg()).div(Tensors.s(temperature));
    Tensor zero = Tensors.scalarLike(0.0, x);
    // Non-negatives hold the lowest finite value, so that no entry overflows in exp (its gradient would be NaN).
    Tensor negX = x.masked_fill(negMask.logical_not(), Tensors.s(Tensors.negInf(dtype)));
    Tensor rowMax = negX.amax(new long[] {1}, true).detach();
    Tensor z = torch.where(negMask, negX.sub(rowMax).exp(), zero).sum(new long[] {1}, true, new ScalarTypeOptional());
    Tensor maxVal = torch.max(x, rowMax).detach();
    Tensor numerator = x.sub(maxVal).exp();
    Tensor denominator = rowMax.sub(maxVal).exp().mul(z).add(numerator);
    Tensor losses = numerator.div(denominator).add(Tensors.s(Tensors.smallVal(dtype))).log().neg();
    return LossDict.of("loss", reduceDense("loss", losses, posMask, numPos));
  }

  public double temperature() {
    return temperature;
  }

  /** Registry factory: {@code temperature}, common kwargs. */
  public static NTXentLoss fromSpec(Params p) {
    return new NTXentLoss(p.getDouble("temperature", DEFAULT_TEMPERATURE), LossOptions.fromSpec(p, false));
  }
}
