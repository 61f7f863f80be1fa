package org.pml4j.losses;

import java.util.concurrent.atomic.AtomicBoolean;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code RankedListLoss} (Wang et al., CVPR 2019). For each query, positives farther than
 * {@code alpha - margin} and negatives closer than {@code alpha} are selected; each selected pair is weighted by
 * {@code exp(Tp * (d - (alpha - margin)))} (positives) or {@code exp(Tn * (alpha - d))} (negatives), and
 *
 * <pre>
 * loss_P = sum_j w_j (d_j - (alpha - margin)) / sum_j (w_j + 1e-5)
 * loss_N = sum_j w_j (alpha - d_j)            / sum_j (w_j + 1e-5)
 * loss   = (1 - imbalance) * loss_P + imbalance * loss_N
 * </pre>
 *
 * per query, where the denominators run over all N columns (so they include {@code N * 1e-5}). As in PML a pair is
 * only selected when its distance is strictly positive. With the defaults ({@code Tp = 0}, {@code alpha = 1 +
 * margin / 2}) this is the paper's "RLL-Simpler".
 *
 * <p>Labels required; no tuple, no reference set. Default distance: LpDistance; default reducer: MeanReducer over the
 * queries.
 */
public class RankedListLoss extends BaseMetricLossFunction {
  private static final System.Logger LOG = System.getLogger(RankedListLoss.class.getName());
  /** Like Python's default warning filter, the temperature warning is shown once. */
  private static final AtomicBoolean WARNED = new AtomicBoolean();

  private final double margin;
  private final double imbalance;
  private final double alpha;
  private final double tp;
  private final double tn;

  /** PML's default {@code imbalance}. */
  public static final double DEFAULT_IMBALANCE = 0.5;
  /** PML's default {@code Tp}: the positive temperature. */
  public static final double DEFAULT_TP = 0;

  /**
   * PML's defaults for the two required values: {@link #DEFAULT_IMBALANCE}, alpha {@code 1 + margin / 2},
   * {@link #DEFAULT_TP}.
   */
  public RankedListLoss(double margin, double tn) {
    this(margin, tn, DEFAULT_IMBALANCE, null, DEFAULT_TP, LossOptions.defaults());
  }

  /**
   * @param margin gap between the positive and the negative boundary
   * @param tn temperature of the negative weights
   * @param imbalance weight of the negative part, in [0, 1]
   * @param alpha the negative boundary, or null for {@code 1 + margin / 2}
   * @param tp temperature of the positive weights
   * @param options distance (default LpDistance), reducer, regularizer
   * @throws IllegalArgumentException when {@code imbalance} is outside [0, 1]
   */
  public RankedListLoss(double margin, double tn, double imbalance, Double alpha, double tp, LossOptions options) {
    super(options);
    if (!(imbalance >= 0 && imbalance <= 1)) {
      throw new IllegalArgumentException("Imbalance must be between 0 and 1, got " + imbalance);
    }
    this.margin = margin;
    this.imbalance = imbalance;
    this.alpha = alpha != null ? alpha : 1 + margin / 2;
    if ((tp > 5 || tn > 5) && !WARNED.getAndSet(true)) {
      LOG.log(System.Logger.Level.WARNING,
          "Values of Tp or Tn are too high. Too large temperature values may lead to overflow.");
    }
    this.tp = tp;
    this.tn = tn;
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    indicesTupleNotSupported(indicesTuple);
    Tensor mat = distance.forward(embeddings, embeddings);
    long n = mat.size(0);
    mat = mat.sub(mat.mul(torch.eye(n, Tensors.options(Tensors.dtype(mat), mat))));
    Tensor y = labels.unsqueeze(1).eq(labels.unsqueeze(0));
    double posBound = alpha - margin;

    Tensor nStar = Tensors.zeros(mat, n, n);
    Tensor pStar = Tensors.zeros(mat, n, n);
    Tensor negSel = y.logical_not().logical_and(mat.lt(Tensors.s(alpha)));
    Tensors.put(nStar, negSel, Tensors.index(mat, negSel));
    y = y.logical_and(torch.eye(n, Tensors.options(ScalarType.Bool, mat))
        .logical_not());
    Tensor posSel = y.logical_and(mat.gt(Tensors.s(posBound)));
    Tensors.put(pStar, posSel, Tensors.index(mat, posSel));

    Tensor wP = Tensors.zeros(mat, n, n);
    Tensor wN = Tensors.zeros(mat, n, n);
    Tensor pPos = pStar.gt(Tensors.s(0.0));
    Tensor nPos = nStar.gt(Tensors.s(0.0));
    Tensors.put(wP, pPos, torch.exp(Tensors.index(pStar, pPos).sub(Tensors.s(posBound)).mul(Tensors.s(tp))));
    Tensors.put(wN, nPos, torch.exp(torch.rsub(Tensors.index(nStar, nPos), Tensors.s(alpha)).mul(Tensors.s(tn))));

    Tensor lossP = wP.mul(pStar.sub(Tensors.s(posBound))).sum(1).div(wP.add(Tensors.s(1e-5)).sum(1));
    Tensor lossN = wN.mul(torch.rsub(nStar, Tensors.s(alpha))).sum(1).div(wN.add(Tensors.s(1e-5)).sum(1));
    Tensor loss = lossP.mul(Tensors.s(1 - imbalance)).add(lossN.mul(Tensors.s(imbalance)));
    return LossDict.of("loss", LossInfo.element(loss, Tensors.arange(loss.size(0), loss)));
  }

  public double margin() {
    return margin;
  }

  public double imbalance() {
    return imbalance;
  }

  public double alpha() {
    return alpha;
  }

  public double tp() {
    return tp;
  }

  public double tn() {
    return tn;
  }

  /** Registry factory: {@code margin}, {@code Tn} (both required), {@code imbalance}, {@code alpha}, {@code Tp}. */
  public static RankedListLoss fromSpec(Params p) {
    Double margin = p.getDoubleOrNull("margin");
    Double tn = p.getDoubleOrNull("Tn");
    if (margin == null || tn == null) {
      throw new IllegalArgumentException("RankedListLoss requires 'margin' and 'Tn'");
    }
    return new RankedListLoss(margin, tn, p.getDouble("imbalance", DEFAULT_IMBALANCE), p.getDoubleOrNull("alpha"),
        p.getDouble("Tp", DEFAULT_TP), LossOptions.fromSpec(p, false));
  }
}
