package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;
import org.pml4j.validation.Checks;

/**
 * PML's {@code LargeMarginSoftmaxLoss} (L-Softmax, Liu et al. 2016): a softmax cross-entropy over class weight vectors
 * {@code W} ({@code [embedding_size, num_classes]}, learnable) in which the target class's {@code cos θ} is replaced
 * by {@code ψ(θ) = (-1)^k cos(mθ) - 2k}, {@code k = floor(θ / (π/m))}, with {@code m = int(margin)} and
 * {@code cos(mθ)} expanded by the multiple-angle formula. The logits are then multiplied by
 * {@code ‖W_j‖·‖x‖·scale} (un-normalized, as in the paper).
 *
 * <p>Labels are required and must lie in {@code [0, num_classes)}; a reference set is not supported; an indices tuple
 * only weights the per-sample losses (PML's {@code convert_to_weights}). The distance must be a
 * {@link CosineSimilarity}. With a {@code weight_regularizer}, {@code W.t()} (one row per class) is regularized.
 *
 * <p>Subclasses ({@link ArcFaceLoss}, {@link CosFaceLoss}, {@link SphereFaceLoss}, {@link SubCenterArcFaceLoss})
 * override {@link #modifyCosineOfTargetClasses}, {@link #scaleLogits} and {@link #getCosine}, as in PML.
 *
 * <p>Like PML, a forward pass (and {@link #getLogits}) moves {@code W} to the embeddings' dtype and device when they
 * differ (PML's {@code cast_types}); in pml4j that replaces the parameter tensor, so re-read {@link #parameters()}.
 */
public class LargeMarginSoftmaxLoss extends BaseWeightLoss {
  protected final int numClasses;
  protected final int embeddingSize;
  protected final double margin;
  protected final double scale;

  /** PML's default {@code margin}: the angle multiplier. Also {@link SphereFaceLoss}'s, which PML inherits */
  public static final double DEFAULT_MARGIN = 4;
  /** PML's default {@code scale}. Also {@link SphereFaceLoss}'s */
  public static final double DEFAULT_SCALE = 1;

  /** PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_SCALE}. */
  public LargeMarginSoftmaxLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_MARGIN, DEFAULT_SCALE, LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes (columns of {@code W})
   * @param embeddingSize embedding width (rows of {@code W})
   * @param margin the angular multiplier m; PML truncates it to an int
   * @param scale multiplies the logits
   * @param options distance (CosineSimilarity only), reducer (default MeanReducer), embedding and weight
   *     regularizers
   */
  public LargeMarginSoftmaxLoss(int numClasses, int embeddingSize, double margin, double scale, LossOptions options) {
    this(numClasses, embeddingSize, numClasses, margin, scale, options);
  }

  /**
   * For subclasses whose {@code W} has more columns than there are classes ({@link SubCenterArcFaceLoss}).
   *
   * @param weightColumns columns of {@code W}
   */
  protected LargeMarginSoftmaxLoss(int numClasses, int embeddingSize, int weightColumns, double margin, double scale,
      LossOptions options) {
    super(options);
    requireDistance(CosineSimilarity.class, null, null);
    if (numClasses < 1) {
      throw new IllegalArgumentException("num_classes must be >= 1, got " + numClasses);
    }
    if (embeddingSize < 1) {
      throw new IllegalArgumentException("embedding_size must be >= 1, got " + embeddingSize);
    }
    this.numClasses = numClasses;
    this.embeddingSize = embeddingSize;
    this.margin = margin;
    this.scale = scale;
    // PML's WeightMixin default: torch.nn.init.normal_ (mean 0, std 1) on a float32 [embedding_size, columns] tensor.
    Tensor w = torch.zeros(new long[] {embeddingSize, weightColumns}, new TensorOptions(ScalarType.Float)).normal_();
    registerParameter("W", w);
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    checkLabelRange(labels, numClasses);
    Tensor w = weightLike(embeddings);
    ScalarType dtype = Tensors.dtype(embeddings);
    Tensor minerWeights = Lmu.convertToWeights(indicesTuple, labels, dtype, false);
    Tensor mask = targetMask(embeddings, labels);
    Tensor cosine = getCosine(embeddings, w);
    Tensor targetCosine = Tensors.index(cosine, mask.eq(Tensors.s(1.0)));
    Tensor modified = modifyCosineOfTargetClasses(targetCosine);
    Tensor diff = modified.sub(targetCosine).unsqueeze(1);
    Tensor logits = scaleLogits(cosine.add(mask.mul(diff)), embeddings, w);
    Tensor losses = crossEntropy(logits, labels).mul(minerWeights);
    LossDict dict = LossDict.of("loss", LossInfo.element(losses, Tensors.arange(embeddings.size(0), embeddings)));
    addWeightRegularization(dict, w.t());
    return dict;
  }

  /**
   * PML's {@code get_logits}: the scaled cosine logits {@code [B, num_classes]} without any margin, for inference.
   *
   * @param embeddings {@code [B, embedding_size]}
   */
  public Tensor getLogits(Tensor embeddings) {
    Checks.checkEmbeddingsAndLabels(embeddings, null, "embeddings", "labels");
    Tensor w = weightLike(embeddings);
    return scaleLogits(getCosine(embeddings, w), embeddings, w);
  }

  /** PML's {@code get_cosine}: {@code distance(embeddings, W.t())}, {@code [B, num_classes]}. */
  protected Tensor getCosine(Tensor embeddings, Tensor w) {
    return distance.forward(embeddings, w.t());
  }

  /** PML's {@code get_angles}: {@code acos(clamp(cos, -1, 1))}. */
  protected static Tensor getAngles(Tensor cosineOfTargetClasses) {
    return cosineOfTargetClasses.clamp(new ScalarOptional(Tensors.s(-1.0)), new ScalarOptional(Tensors.s(1.0))).acos();
  }

  /** The logit that replaces each target-class cosine: L-Softmax's {@code ψ(θ) = (-1)^k cos(mθ) - 2k}. */
  protected Tensor modifyCosineOfTargetClasses(Tensor cosineOfTargetClasses) {
    int m = intMargin();
    if (m < 1) {
      // PML divides by zero here (math.pi / 0) for margin < 1.
      throw new IllegalArgumentException(getClass().getSimpleName() + " needs int(margin) >= 1, got " + margin);
    }
    Tensor cosWithMargin = cosWithMargin(cosineOfTargetClasses, m);
    Tensor angles = getAngles(cosineOfTargetClasses);
    // Equation 6: θ lies in [kπ/m, (k+1)π/m]; k carries no gradient.
    Tensor k = angles.detach().div(Tensors.s(Math.PI / m)).floor();
    return torch.pow(Tensors.s(-1.0), k).mul(cosWithMargin).sub(k.mul(Tensors.s(2.0)));
  }

  /**
   * {@code cos(mθ)} from {@code cos θ} by the multiple-angle formula (equation 7 of the paper):
   * {@code Σ_n (-1)^n C(m, 2n) cos^(m-2n)θ (1 - cos²θ)^n}, {@code n = 0..m/2}.
   */
  private static Tensor cosWithMargin(Tensor cosine, int m) {
    int maxN = m / 2;
    double[] nRange = new double[maxN + 1];
    double[] choose = new double[maxN + 1];
    double[] cosPowers = new double[maxN + 1];
    double[] alternating = new double[maxN + 1];
    for (int n = 0; n <= maxN; n++) {
      nRange[n] = n;
      choose[n] = binom(m, 2 * n);
      cosPowers[n] = m - 2 * n;
      alternating[n] = n % 2 == 0 ? 1 : -1;
    }
    ScalarType dtype = Tensors.dtype(cosine);
    Tensor c = cosine.unsqueeze(1);
    Tensor cosPowered = c.pow(onDevice(cosPowers, dtype, cosine));
    Tensor sinPowered = torch.rsub(c.pow(Tensors.s(2.0)), Tensors.s(1.0)).pow(onDevice(nRange, dtype, cosine));
    Tensor terms = onDevice(alternating, dtype, cosine).mul(onDevice(choose, dtype, cosine)).mul(cosPowered)
        .mul(sinPowered);
    return terms.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
  }

  private static Tensor onDevice(double[] values, ScalarType dtype, Tensor like) {
    return Tensors.of(values, dtype).to(like.device(), dtype);
  }

  /** {@code scipy.special.binom(n, k)} for integers {@code 0 <= k <= n}. */
  private static double binom(int n, int k) {
    double r = 1;
    for (int i = 1; i <= k; i++) {
      r = r * (n - k + i) / i;
    }
    return r;
  }

  /**
   * PML's {@code scale_logits}: {@code logits · ‖W_j‖ · ‖x_i‖ · scale}, norms taken with the distance's p.
   *
   * @param w the weight, already in the embeddings' dtype
   */
  protected Tensor scaleLogits(Tensor logits, Tensor embeddings, Tensor w) {
    Tensor embeddingNorms = distance.getNorm(embeddings);
    Tensor weightNorms = distance.getNorm(w.t()); // = get_norm(W, dim=0)
    Tensor product = weightNorms.unsqueeze(0).mul(embeddingNorms.unsqueeze(1));
    return logits.mul(product).mul(Tensors.s(scale));
  }

  /** PML's {@code get_target_mask}: a {@code [B, num_classes]} one-hot matrix in the embeddings' dtype. */
  protected Tensor targetMask(Tensor embeddings, Tensor labels) {
    long b = labels.size(0);
    Tensor mask = Tensors.zeros(embeddings, b, numClasses);
    Tensors.put2(mask, Tensors.arange(b, embeddings), labels, 1.0);
    return mask;
  }

  /**
   * The parameter {@code W} in the dtype and device of {@code like}, converting the stored parameter first when they
   * differ (PML's {@code cast_types}).
   */
  protected final Tensor weightLike(Tensor like) {
    return paramLike("W", like);
  }

  /** Per-sample {@code CrossEntropyLoss(reduction="none")}. */
  static Tensor crossEntropy(Tensor logits, Tensor targets) {
    return torch.cross_entropy_loss(logits, targets, new TensorOptional(), 0L, -100L, 0.0);
  }

  /** PML's {@code int(margin)}. */
  protected final int intMargin() {
    return (int) margin;
  }

  public int numClasses() {
    return numClasses;
  }

  public int embeddingSize() {
    return embeddingSize;
  }

  /** The margin as given (an angular multiplier here; degrees for ArcFace, a cosine offset for CosFace). */
  public double margin() {
    return margin;
  }

  public double scale() {
    return scale;
  }

  /**
   * Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code margin}, {@code scale}, the common
   * kwargs and {@code weight_regularizer}, {@code weight_reg_weight}.
   */
  public static LargeMarginSoftmaxLoss fromSpec(Params p) {
    return new LargeMarginSoftmaxLoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getDouble("margin", DEFAULT_MARGIN), p.getDouble("scale", DEFAULT_SCALE), LossOptions.fromSpec(p, true));
  }
}
