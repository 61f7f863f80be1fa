package org.pml4j.losses;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.DivisorReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code MarginLoss} (Wu et al., "Sampling Matters in Deep Embedding Learning"). Per triplet {@code (a, p, n)}:
 * {@code relu(margin(d_ap, beta) + margin) + relu(margin(beta, d_an) + margin)}; sub-loss {@code margin_loss}
 * (reduction {@code triplet}) with divisor = number of non-zero positive terms + number of non-zero negative terms.
 * Triplets come from the tuple (pairs are combined per anchor) or from the labels: all of them, or
 * {@code tripletsPerAnchor} random ones per anchor (LibTorch's generator).
 *
 * <p>{@code beta} is a single value, or one per class when {@code numClasses} is set (then indexed by the anchors'
 * labels, which are then required). With {@code learnBeta} it is a learnable parameter named {@code beta} (shape
 * {@code [1]} or {@code [numClasses]}) and sub-loss {@code beta_reg_loss = nu * beta} ({@code already_reduced} for one
 * beta, else {@code element} over the anchors with the same divisor); otherwise {@code beta_reg_loss} is the zero loss.
 * As in PML, {@code beta} starts as a float32 value, so a non-learned beta of 1.2 is 1.2f in a float64 run too.
 * Default reducer: {@link DivisorReducer} per sub-loss, summed.
 */
public class MarginLoss extends BaseWeightLoss {
  private final double margin;
  private final double nu;
  private final double beta;
  private final Integer tripletsPerAnchor;
  private final boolean learnBeta;
  private final Integer numClasses;

  /** PML's default {@code margin}. */
  public static final double DEFAULT_MARGIN = 0.2;
  /** PML's default {@code nu}: the weight of the beta regularization. */
  public static final double DEFAULT_NU = 0;
  /** PML's default {@code beta}: the initial boundary. */
  public static final double DEFAULT_BETA = 1.2;
  /** PML's default {@code learn_beta}: a fixed beta. */
  public static final boolean DEFAULT_LEARN_BETA = false;

  /**
   * PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_NU}, {@link #DEFAULT_BETA}, all triplets,
   * {@link #DEFAULT_LEARN_BETA}, one beta.
   */
  public MarginLoss() {
    this(DEFAULT_MARGIN, DEFAULT_NU, DEFAULT_BETA, null, DEFAULT_LEARN_BETA, null, LossOptions.defaults());
  }

  /**
   * @param margin the margin {@code alpha} around the boundary {@code beta}
   * @param nu weight of the beta regularization (used only with {@code learnBeta})
   * @param beta initial boundary between positive and negative distances
   * @param tripletsPerAnchor null for all triplets, else that many random triplets per anchor
   * @param learnBeta make beta a learnable parameter
   * @param numClasses null (or 0) for one beta, else one beta per class
   * @param options distance (default LpDistance), reducer (default DivisorReducer), embedding regularizer
   */
  public MarginLoss(double margin, double nu, double beta, Integer tripletsPerAnchor, boolean learnBeta,
      Integer numClasses, LossOptions options) {
    super(options);
    if (tripletsPerAnchor != null && tripletsPerAnchor < 1) {
      throw new IllegalArgumentException("triplets_per_anchor must be \"all\" or >= 1, got " + tripletsPerAnchor);
    }
    if (numClasses != null && numClasses < 0) {
      throw new IllegalArgumentException("num_classes must be >= 0, got " + numClasses);
    }
    this.margin = margin;
    this.nu = nu;
    this.beta = beta;
    this.tripletsPerAnchor = tripletsPerAnchor;
    this.learnBeta = learnBeta;
    this.numClasses = numClasses == null || numClasses == 0 ? null : numClasses;
    if (learnBeta) {
      registerParameter("beta", initialBeta());
    }
  }

  /** PML's {@code initialize_beta}: {@code tensor([float(beta)])}, repeated per class; float32. */
  private Tensor initialBeta() {
    Tensor b = Tensors.floats(new float[][] {{(float) beta}}).view(1);
    if (numClasses != null) {
      b = torch.ones(new long[] {numClasses}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Float)).mul(b);
    }
    return b;
  }

  @Override
  protected BaseReducer defaultReducer() {
    return new DivisorReducer();
  }

  @Override
  protected List<String> baseSubLossNames() {
    return List.of("margin_loss", "beta_reg_loss");
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsOrIndicesTupleRequired(labels, indicesTuple);
    IndicesTuple t = Lmu.convertToTriplets(indicesTuple, labels, refLabels, tripletsPerAnchor);
    Tensor a = t.get(0);
    Tensor p = t.get(1);
    Tensor n = t.get(2);
    if (Tensors.len(a) == 0) {
      return zeroLosses();
    }
    Tensor b = learnBeta ? param("beta") : initialBeta();
    if (Tensors.len(b) != 1) {
      if (labels == null) {
        throw new IllegalArgumentException("MarginLoss with num_classes (one beta per class) requires labels");
      }
      long maxLabel = labels.max().item_long();
      long minLabel = labels.min().item_long();
      if (minLabel < 0 || maxLabel >= Tensors.len(b)) {
        throw new IllegalArgumentException("MarginLoss with num_classes=" + Tensors.len(b)
            + " needs labels in [0, num_classes), got labels in [" + minLabel + ", " + maxLabel + "]");
      }
      b = Tensors.index(b.to(embeddings.device(), Tensors.dtype(b)), Tensors.index(labels, a));
    }
    b = b.to(embeddings.device(), Tensors.dtype(embeddings));

    Tensor mat = distance.forward(embeddings, refEmb);
    Tensor dAp = Tensors.index2(mat, a, p);
    Tensor dAn = Tensors.index2(mat, a, n);
    Tensor posLoss = torch.relu(distance.margin(dAp, b).add(Tensors.s(margin)));
    Tensor negLoss = torch.relu(distance.margin(b, dAn).add(Tensors.s(margin)));
    long numPos = posLoss.gt(Tensors.s(0.0)).sum().item_long();
    long numNeg = negLoss.gt(Tensors.s(0.0)).sum().item_long();
    double divisor = numPos + numNeg;
    Tensor marginLoss = posLoss.add(negLoss);

    LossDict d = new LossDict();
    d.put("margin_loss", new LossInfo(marginLoss, t.tensors(), ReductionType.TRIPLET, divisor));
    d.put("beta_reg_loss", regLoss(b, a, divisor));
    return d;
  }

  private LossInfo regLoss(Tensor b, Tensor anchors, double divisor) {
    if (!learnBeta) {
      return LossInfo.zero();
    }
    Tensor loss = b.mul(Tensors.s(nu));
    if (numClasses == null) {
      return LossInfo.reduced(loss);
    }
    return new LossInfo(loss, new Tensor[] {anchors}, ReductionType.ELEMENT, divisor);
  }

  public double margin() {
    return margin;
  }

  public double nu() {
    return nu;
  }

  /** The initial beta (the learned values are {@code parameters().get("beta")}). */
  public double beta() {
    return beta;
  }

  /** Null means "all". */
  public Integer tripletsPerAnchor() {
    return tripletsPerAnchor;
  }

  public boolean learnBeta() {
    return learnBeta;
  }

  /** Null for a single beta. */
  public Integer numClasses() {
    return numClasses;
  }

  /**
   * Registry factory: {@code margin}, {@code nu}, {@code beta}, {@code triplets_per_anchor}, {@code learn_beta},
   * {@code num_classes}, common kwargs.
   */
  public static MarginLoss fromSpec(Params p) {
    return new MarginLoss(p.getDouble("margin", DEFAULT_MARGIN), p.getDouble("nu", DEFAULT_NU),
        p.getDouble("beta", DEFAULT_BETA), p.getIntOrAll("triplets_per_anchor"),
        p.getBool("learn_beta", DEFAULT_LEARN_BETA), p.getIntOrNull("num_classes"), LossOptions.fromSpec(p, false));
  }
}
