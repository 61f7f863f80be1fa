package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code CosFaceLoss} (large margin cosine loss, Wang et al. 2018): the target class's cosine is reduced by
 * the additive margin ({@code cos θ - m}, a cosine offset, not an angle), every logit is multiplied by {@code scale},
 * then a per-sample softmax cross-entropy is taken.
 *
 * <p>The learnable class weights {@code W} are {@code [embedding_size, num_classes]}; see
 * {@link LargeMarginSoftmaxLoss} for the inputs accepted and {@link #getLogits} for inference.
 */
public class CosFaceLoss extends LargeMarginSoftmaxLoss {
  /** PML's default {@code margin}: the additive cosine margin. */
  public static final double DEFAULT_MARGIN = 0.35;
  /** PML's default {@code scale}. */
  public static final double DEFAULT_SCALE = 64;

  /** PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_SCALE}. */
  public CosFaceLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_MARGIN, DEFAULT_SCALE, LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes
   * @param embeddingSize embedding width
   * @param margin subtracted from the target class's cosine
   * @param scale multiplies every logit
   * @param options distance (CosineSimilarity only), reducer (default MeanReducer), embedding and weight regularizers
   */
  public CosFaceLoss(int numClasses, int embeddingSize, double margin, double scale, LossOptions options) {
    super(numClasses, embeddingSize, margin, scale, options);
  }

  @Override
  protected Tensor modifyCosineOfTargetClasses(Tensor cosineOfTargetClasses) {
    return cosineOfTargetClasses.sub(Tensors.s(margin));
  }

  /** {@code logits · scale}. */
  @Override
  protected Tensor scaleLogits(Tensor logits, Tensor embeddings, Tensor w) {
    return logits.mul(Tensors.s(scale));
  }

  /**
   * Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code margin}, {@code scale}, the common
   * kwargs and {@code weight_regularizer}, {@code weight_reg_weight}.
   */
  public static CosFaceLoss fromSpec(Params p) {
    return new CosFaceLoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getDouble("margin", DEFAULT_MARGIN), p.getDouble("scale", DEFAULT_SCALE), LossOptions.fromSpec(p, true));
  }
}
