package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code NCALoss} (Goldberger et al., Neighbourhood Components Analysis). Per query row {@code i}:
 * {@code -log sum_{j: y_j = y_i} softmax_j(softmaxScale * (-d_ij))} (a similarity is used as is, not negated). When
 * the reference is the batch itself (the same tensor), each row's self-comparison is excluded with the dtype's most
 * negative finite value, as in PML. Rows whose same-label mass is exactly 0 are dropped. A mined tuple only weights the
 * rows (see {@link Lmu#convertToWeights}).
 *
 * <p>Labels are required; a batch of at most one row gives the zero loss. Default distance
 * {@code LpDistance(power=2)} (squared normalized Euclidean distances). Sub-loss {@code loss}, reduction
 * {@code element}, default {@link org.pml4j.reducers.MeanReducer}.
 */
public class NCALoss extends BaseMetricLossFunction {
  private final double softmaxScale;

  /** PML's default {@code softmax_scale}. Also {@link ProxyNCALoss}'s, which PML inherits */
  public static final double DEFAULT_SOFTMAX_SCALE = 1;

  /** PML's default: {@link #DEFAULT_SOFTMAX_SCALE}. */
  public NCALoss() {
    this(DEFAULT_SOFTMAX_SCALE, LossOptions.defaults());
  }

  /**
   * @param softmaxScale multiplies the (negated) distances inside the softmax
   * @param options distance (default {@code LpDistance(power=2)}), reducer, embedding regularizer
   */
  public NCALoss(double softmaxScale, LossOptions options) {
    super(options);
    this.softmaxScale = softmaxScale;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new LpDistance(true, 2, 2);
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    if (Tensors.len(embeddings) <= 1) {
      return zeroLosses();
    }
    labelsRequired(labels);
    return ncaComputation(embeddings, refEmb, labels, refLabels, indicesTuple);
  }

  /**
   * PML's {@code nca_computation}: the NCA loss of {@code query} rows against {@code reference} rows (also used by
   * proxy-based NCA). The self-comparison is masked only when {@code reference == query} (same object).
   */
  protected LossDict ncaComputation(Tensor query, Tensor reference, Tensor queryLabels, Tensor referenceLabels,
      IndicesTuple indicesTuple) {
    ScalarType dtype = Tensors.dtype(query);
    Tensor minerWeights = Lmu.convertToWeights(indicesTuple, queryLabels, dtype, query != reference);
    Tensor mat = distance.forward(query, reference);
    if (!distance.isInverted()) {
      mat = mat.neg();
    }
    if (query == reference) {
      mat.fill_diagonal_(Tensors.s(Tensors.negInf(dtype)));
    }
    Tensor sameLabels = queryLabels.unsqueeze(1).eq(referenceLabels.unsqueeze(0)).to(dtype);
    Tensor exp = torch.softmax(mat.mul(Tensors.s(softmaxScale)), 1, new ScalarTypeOptional());
    exp = exp.mul(sameLabels).sum(new long[] {1}, false, new ScalarTypeOptional());
    Tensor nonZero = exp.ne(Tensors.s(0.0));
    Tensor loss = Tensors.index(exp, nonZero).log().neg().mul(Tensors.index(minerWeights, nonZero));
    return LossDict.of("loss", LossInfo.element(loss, Tensors.index(Tensors.arange(query.size(0), query), nonZero)));
  }

  public double softmaxScale() {
    return softmaxScale;
  }

  /** Registry factory: {@code softmax_scale}, common kwargs. */
  public static NCALoss fromSpec(Params p) {
    return new NCALoss(p.getDouble("softmax_scale", DEFAULT_SOFTMAX_SCALE), LossOptions.fromSpec(p, false));
  }
}
