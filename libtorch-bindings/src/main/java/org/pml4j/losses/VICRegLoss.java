package org.pml4j.losses;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code VICRegLoss} (Bardes et al., ICLR 2022): self-supervised loss between two views {@code Z = embeddings}
 * and {@code Z' = refEmb}, where row i of each is a view of the same sample:
 *
 * <pre>
 * L = lambda * s(Z, Z') + mu * [v(Z) + v(Z')] + nu * [c(Z) + c(Z')]
 * </pre>
 *
 * with the invariance {@code s} = per-row mean squared difference, the variance term {@code v} = per-dimension
 * {@code relu(1 - sqrt(var + eps)) / 2} (unbiased variance), and the covariance term {@code c} = sum of squared
 * off-diagonal entries of the covariance matrix (divided by {@code N - 1}) over D.
 *
 * <p>Four sub-losses, each reduced by the reducer (default MeanReducer) and summed: {@code invariance_loss} (per row),
 * {@code variance_loss1} and {@code variance_loss2} (per dimension) and {@code covariance_loss} (already reduced).
 * Call {@code forward(embeddings, null, null, refEmb, null)}; without {@code refEmb} the embeddings are compared with
 * themselves, as in PML. Labels and tuples are not supported, nor are a distance or an embedding regularizer.
 */
public class VICRegLoss extends BaseMetricLossFunction {
  private final double invarianceLambda;
  private final double varianceMu;
  private final double covarianceV;
  private final double eps;

  /** PML's default {@code invariance_lambda}. */
  public static final double DEFAULT_INVARIANCE_LAMBDA = 25;
  /** PML's default {@code variance_mu}. */
  public static final double DEFAULT_VARIANCE_MU = 25;
  /** PML's default {@code covariance_v}. */
  public static final double DEFAULT_COVARIANCE_V = 1;
  /** PML's default {@code eps}. */
  public static final double DEFAULT_EPS = 1e-4;

  /**
   * PML's defaults: {@link #DEFAULT_INVARIANCE_LAMBDA}, {@link #DEFAULT_VARIANCE_MU}, {@link #DEFAULT_COVARIANCE_V},
   * {@link #DEFAULT_EPS}.
   */
  public VICRegLoss() {
    this(DEFAULT_INVARIANCE_LAMBDA, DEFAULT_VARIANCE_MU, DEFAULT_COVARIANCE_V, DEFAULT_EPS, LossOptions.defaults());
  }

  /**
   * @param invarianceLambda weight of the invariance term
   * @param varianceMu weight of the variance terms
   * @param covarianceV weight of the covariance terms
   * @param eps added to the variance before the square root
   * @param options reducer only
   * @throws IllegalArgumentException when a distance or an embedding regularizer is given
   */
  public VICRegLoss(double invarianceLambda, double varianceMu, double covarianceV, double eps, LossOptions options) {
    super(check(options));
    this.invarianceLambda = invarianceLambda;
    this.varianceMu = varianceMu;
    this.covarianceV = covarianceV;
    this.eps = eps;
  }

  private static LossOptions check(LossOptions o) {
    if (o != null && o.distance() != null) {
      throw new IllegalArgumentException("VICRegLoss cannot use a distance function");
    }
    if (o != null && o.embeddingRegularizer() != null) {
      throw new IllegalArgumentException("VICRegLoss cannot use a regularizer");
    }
    return o;
  }

  @Override
  protected List<String> baseSubLossNames() {
    return List.of("invariance_loss", "variance_loss1", "variance_loss2", "covariance_loss");
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    indicesTupleNotSupported(indicesTuple);
    if (labels != null || refLabels != null) {
      throw new IllegalArgumentException("labels are ref_labels are not supported for this loss function");
    }
    if (refEmb.size(0) != embeddings.size(0)) {
      throw new IllegalArgumentException("VICRegLoss needs one ref_emb row per embedding (row i of each is a view of "
          + "the same sample), got " + embeddings.size(0) + " and " + refEmb.size(0));
    }
    Tensor invariance = embeddings.sub(refEmb).pow(Tensors.s(2.0)).mean(1).mul(Tensors.s(invarianceLambda));
    Tensor var1 = varianceTerm(embeddings).mul(Tensors.s(varianceMu));
    Tensor var2 = varianceTerm(refEmb).mul(Tensors.s(varianceMu));
    Tensor covariance = covarianceTerm(embeddings, refEmb).mul(Tensors.s(covarianceV));
    Tensor varIdx = Tensors.arange(var1.size(0), var1);
    LossDict d = new LossDict();
    d.put("invariance_loss", LossInfo.element(invariance, Tensors.arange(invariance.size(0), invariance)));
    d.put("variance_loss1", LossInfo.element(var1, varIdx));
    d.put("variance_loss2", LossInfo.element(var2, varIdx));
    d.put("covariance_loss", LossInfo.reduced(covariance));
    return d;
  }

  /** {@code relu(1 - sqrt(var(dim 0, unbiased) + eps)) / 2} per dimension. */
  private Tensor varianceTerm(Tensor emb) {
    Tensor std = torch.sqrt(emb.var(new long[] {0}, true, false).add(Tensors.s(eps)));
    return torch.relu(torch.rsub(std, Tensors.s(1.0))).div(Tensors.s(2.0));
  }

  /** Sum of squared off-diagonal covariances / D, for each view, added. */
  private static Tensor covarianceTerm(Tensor emb, Tensor ref) {
    long n = emb.size(0);
    long d = emb.size(1);
    Tensor offDiag = torch.eye(d, Tensors.options(ScalarType.Bool, emb)).logical_not();
    return offDiagSquares(emb, n, offDiag).div(Tensors.s((double) d))
        .add(offDiagSquares(ref, n, offDiag).div(Tensors.s((double) d)));
  }

  private static Tensor offDiagSquares(Tensor x, long n, Tensor offDiag) {
    Tensor c = x.sub(x.mean(0));
    Tensor cov = c.t().mm(c).div(Tensors.s((double) (n - 1)));
    return Tensors.index(cov, offDiag).pow(Tensors.s(2.0)).sum();
  }

  public double invarianceLambda() {
    return invarianceLambda;
  }

  public double varianceMu() {
    return varianceMu;
  }

  public double covarianceV() {
    return covarianceV;
  }

  public double eps() {
    return eps;
  }

  /**
   * Registry factory: {@code invariance_lambda}, {@code variance_mu}, {@code covariance_v}, {@code eps}, common kwargs
   * (a distance or an embedding regularizer is rejected, as in PML).
   */
  public static VICRegLoss fromSpec(Params p) {
    return new VICRegLoss(p.getDouble("invariance_lambda", DEFAULT_INVARIANCE_LAMBDA),
        p.getDouble("variance_mu", DEFAULT_VARIANCE_MU), p.getDouble("covariance_v", DEFAULT_COVARIANCE_V),
        p.getDouble("eps", DEFAULT_EPS), LossOptions.fromSpec(p, false));
  }
}
