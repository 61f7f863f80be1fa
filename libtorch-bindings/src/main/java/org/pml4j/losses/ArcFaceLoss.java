package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code ArcFaceLoss} (additive angular margin, Deng et al. 2019): the target class's logit is
 * {@code cos(θ + m)} while {@code θ <= π - m}, else {@code cos θ - m·sin m} (keeping the logit monotonic in θ),
 * with {@code θ = acos(clamp(cos, -1, 1))}; all logits are multiplied by {@code scale}, then a per-sample softmax
 * cross-entropy is taken. The margin is given in <b>degrees</b>, as in PML (28.6° ≈ 0.5 rad).
 *
 * <p>The learnable class weights {@code W} are {@code [embedding_size, num_classes]}; see
 * {@link LargeMarginSoftmaxLoss} for the inputs accepted and {@link #getLogits} for inference.
 */
public class ArcFaceLoss extends LargeMarginSoftmaxLoss {
  private final double marginRadians;

  /** PML's default {@code margin}: the additive angular margin, in degrees. Also {@link SubCenterArcFaceLoss}'s */
  public static final double DEFAULT_MARGIN = 28.6;
  /** PML's default {@code scale}. Also {@link SubCenterArcFaceLoss}'s */
  public static final double DEFAULT_SCALE = 64;

  /** PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_SCALE}. */
  public ArcFaceLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_MARGIN, DEFAULT_SCALE, LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes
   * @param embeddingSize embedding width
   * @param marginDegrees additive angular margin, in degrees
   * @param scale multiplies every logit
   * @param options distance (CosineSimilarity only), reducer (default MeanReducer), embedding and weight regularizers
   */
  public ArcFaceLoss(int numClasses, int embeddingSize, double marginDegrees, double scale, LossOptions options) {
    this(numClasses, embeddingSize, numClasses, marginDegrees, scale, options);
  }

  /** For {@link SubCenterArcFaceLoss}: {@code W} with {@code weightColumns} columns. */
  protected ArcFaceLoss(int numClasses, int embeddingSize, int weightColumns, double marginDegrees, double scale,
      LossOptions options) {
    super(numClasses, embeddingSize, weightColumns, marginDegrees, scale, options);
    this.marginRadians = Math.toRadians(marginDegrees);
  }

  @Override
  protected Tensor modifyCosineOfTargetClasses(Tensor cosineOfTargetClasses) {
    Tensor angles = getAngles(cosineOfTargetClasses);
    Tensor cosThetaPlusMargin = angles.add(Tensors.s(marginRadians)).cos();
    Tensor cosTheta = angles.cos();
    // Keep the logit monotonically decreasing in θ beyond π - m.
    Tensor fallback = cosTheta.sub(Tensors.s(marginRadians * Math.sin(marginRadians)));
    return torch.where(angles.le(Tensors.s(Math.PI - marginRadians)), cosThetaPlusMargin, fallback);
  }

  /** {@code logits · scale} (the cosine logits are already normalized). */
  @Override
  protected Tensor scaleLogits(Tensor logits, Tensor embeddings, Tensor w) {
    return logits.mul(Tensors.s(scale));
  }

  /** The margin in radians (PML's {@code self.margin} after {@code init_margin}). */
  public double marginRadians() {
    return marginRadians;
  }

  /**
   * Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code margin} (degrees), {@code scale},
   * the common kwargs and {@code weight_regularizer}, {@code weight_reg_weight}.
   */
  public static ArcFaceLoss fromSpec(Params p) {
    return new ArcFaceLoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getDouble("margin", DEFAULT_MARGIN), p.getDouble("scale", DEFAULT_SCALE), LossOptions.fromSpec(p, true));
  }
}
