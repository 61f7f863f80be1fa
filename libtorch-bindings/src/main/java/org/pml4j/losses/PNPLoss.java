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
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code PNPLoss} (Li et al., AAAI 2022, "Rethinking the Optimization of Average Precision: Only Penalizing
 * Negative Instances before Positive Ones is Enough").
 *
 * <p>For query i and positive j, {@code R_ij = sum_k sigmoid((s_ik - s_ij) / anneal) * neg[j][k]} is a smooth count
 * of the negatives ranked before j (the sigmoid's exponent is clamped to [-50, 50]; {@code neg[j][k]} is indexed by
 * the positive's row, as in PML, which equals the query's row for true positives). The variant shapes the penalty:
 * <ul>
 *   <li>{@code "O"}: {@code R};</li>
 *   <li>{@code "Ds"}: {@code log(1 + R)};</li>
 *   <li>{@code "Dq"}: {@code 1 / (1 + R)^alpha}, and the final loss is {@code 1 - loss};</li>
 *   <li>{@code "Iu"}: {@code (1 + R) log(1 + R)};</li>
 *   <li>{@code "Ib"}: {@code (b R - log(1 + b R)) / b^2}.</li>
 * </ul>
 * The positives of a query include the query itself (when it has at least one other positive). The loss is the mean
 * over positives, then the mean over queries with positives; PML returns it already reduced.
 *
 * <p>Labels required; no tuple, no reference set. Distance: {@link CosineSimilarity} only. Memory is
 * {@code O(N^3)}.
 */
public class PNPLoss extends BaseMetricLossFunction {
  /** The variants PML accepts. */
  public static final List<String> VARIANTS = List.of("Ds", "Dq", "Iu", "Ib", "O");

  private final double b;
  private final double alpha;
  private final double anneal;
  private final String variant;

  /** PML's default {@code b}. */
  public static final double DEFAULT_B = 2;
  /** PML's default {@code alpha}. */
  public static final double DEFAULT_ALPHA = 1;
  /** PML's default {@code anneal}: the sigmoid temperature. */
  public static final double DEFAULT_ANNEAL = 0.01;
  /** PML's default {@code variant}. */
  public static final String DEFAULT_VARIANT = "O";

  /** PML's defaults: {@link #DEFAULT_B}, {@link #DEFAULT_ALPHA}, {@link #DEFAULT_ANNEAL}, {@link #DEFAULT_VARIANT}. */
  public PNPLoss() {
    this(DEFAULT_B, DEFAULT_ALPHA, DEFAULT_ANNEAL, DEFAULT_VARIANT, LossOptions.defaults());
  }

  /**
   * @param b the boundary parameter of variant "Ib"
   * @param alpha the exponent of variant "Dq"
   * @param anneal the sigmoid's temperature
   * @param variant one of {@link #VARIANTS}
   * @param options distance (CosineSimilarity only), reducer, regularizer
   * @throws IllegalArgumentException for an unknown variant or another distance
   */
  public PNPLoss(double b, double alpha, double anneal, String variant, LossOptions options) {
    super(options);
    requireDistance(CosineSimilarity.class, null, null);
    this.b = b;
    this.alpha = alpha;
    this.anneal = anneal;
    this.variant = variant;
    if (!VARIANTS.contains(variant)) {
      throw new IllegalArgumentException("variant=" + variant + " but must be one of " + VARIANTS);
    }
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    indicesTupleNotSupported(indicesTuple);
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    long n = labels.size(0);
    IndicesTuple pairs = Lmu.allPairsIndices(labels, labels);
    Tensor iPos = Tensors.zeros(embeddings, n, n);
    Tensor iNeg = Tensors.zeros(embeddings, n, n);
    Tensors.put2(iPos, pairs.get(0), pairs.get(1), 1.0);
    Tensors.put2(iPos, pairs.get(0), pairs.get(0), 1.0);
    Tensors.put2(iNeg, pairs.get(2), pairs.get(3), 1.0);
    Tensor nPos = iPos.sum(1);
    Tensor safeN = nPos.gt(Tensors.s(0.0));
    if (!safeN.any().item_bool()) {
      return zeroLosses();
    }
    Tensor simAll = distance.forward(embeddings);

    // [i, j, k]: mask I_neg[j, k]; diff s[i, k] - s[i, j]
    Tensor mask = iNeg.unsqueeze(0).repeat(n, 1, 1);
    Tensor simAllRepeat = simAll.unsqueeze(1).repeat(1, n, 1);
    Tensor simDiff = simAllRepeat.sub(simAllRepeat.permute(0, 2, 1));
    Tensor simSg = sigmoid(simDiff, anneal).mul(mask);
    Tensor rk = simSg.sum(-1);

    switch (variant) {
      case "Ds" -> rk = torch.log(rk.add(Tensors.s(1.0)));
      case "Dq" -> rk = torch.reciprocal(rk.add(Tensors.s(1.0)).pow(Tensors.s(alpha)));
      case "Iu" -> {
        Tensor onePlus = rk.add(Tensors.s(1.0));
        rk = onePlus.mul(torch.log(onePlus));
      }
      case "Ib" -> {
        Tensor br = rk.mul(Tensors.s(b));
        rk = br.sub(torch.log(br.add(Tensors.s(1.0)))).mul(Tensors.s(1.0 / (b * b)));
      }
      default -> { } // "O"
    }

    Tensor perQuery = Tensors.index(rk.mul(iPos).sum(-1), safeN).div(Tensors.index(nPos, safeN).reshape(-1));
    Tensor loss = perQuery.sum().div(safeN.sum());
    if (variant.equals("Dq")) {
      loss = torch.rsub(loss, Tensors.s(1.0));
    }
    return LossDict.of("loss",
        new LossInfo(loss, new Tensor[] {Tensors.where(safeN)[0]}, ReductionType.ALREADY_REDUCED));
  }

  /** PML's temperature sigmoid: {@code 1 / (1 + exp(clamp(-x / temp, -50, 50)))}. */
  private static Tensor sigmoid(Tensor x, double temp) {
    Tensor exponent = x.neg().div(Tensors.s(temp)).clamp(new org.bytedeco.pytorch.ScalarOptional(Tensors.s(-50.0)),
        new org.bytedeco.pytorch.ScalarOptional(Tensors.s(50.0)));
    return torch.reciprocal(torch.exp(exponent).add(Tensors.s(1.0)));
  }

  public double b() {
    return b;
  }

  public double alpha() {
    return alpha;
  }

  public double anneal() {
    return anneal;
  }

  public String variant() {
    return variant;
  }

  /** Registry factory: {@code b}, {@code alpha}, {@code anneal}, {@code variant}, common kwargs. */
  public static PNPLoss fromSpec(Params p) {
    return new PNPLoss(p.getDouble("b", DEFAULT_B), p.getDouble("alpha", DEFAULT_ALPHA),
        p.getDouble("anneal", DEFAULT_ANNEAL), p.getString("variant", DEFAULT_VARIANT), LossOptions.fromSpec(p, false));
  }
}
