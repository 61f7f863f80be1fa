package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code SphereFaceLoss} (A-Softmax, Liu et al. 2017): {@link LargeMarginSoftmaxLoss}'s multiplicative angular
 * margin {@code ψ(θ) = (-1)^k cos(mθ) - 2k} ({@code m = int(margin)}), but with normalized class weights: the logits
 * are multiplied by {@code ‖x‖₂ · scale} only.
 *
 * <p>The learnable class weights {@code W} are {@code [embedding_size, num_classes]}; see
 * {@link LargeMarginSoftmaxLoss} for the inputs accepted and {@link #getLogits} for inference.
 */
public class SphereFaceLoss extends LargeMarginSoftmaxLoss {
  /** PML's defaults, inherited from LargeMarginSoftmaxLoss: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_SCALE}. */
  public SphereFaceLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_MARGIN, DEFAULT_SCALE, LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes
   * @param embeddingSize embedding width
   * @param margin the angular multiplier m; truncated to an int as in PML
   * @param scale multiplies the logits
   * @param options distance (CosineSimilarity only), reducer (default MeanReducer), embedding and weight regularizers
   */
  public SphereFaceLoss(int numClasses, int embeddingSize, double margin, double scale, LossOptions options) {
    super(numClasses, embeddingSize, margin, scale, options);
  }

  /** {@code logits · ‖x_i‖₂ · scale} (always the L2 norm, whatever the distance's p, as in PML). */
  @Override
  protected Tensor scaleLogits(Tensor logits, Tensor embeddings, Tensor w) {
    Tensor norms = embeddings.norm(new ScalarOptional(Tensors.s(2.0)), new long[] {1}, false);
    return logits.mul(norms.unsqueeze(1)).mul(Tensors.s(scale));
  }

  /**
   * Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code margin}, {@code scale}, the common
   * kwargs and {@code weight_regularizer}, {@code weight_reg_weight}.
   */
  public static SphereFaceLoss fromSpec(Params p) {
    return new SphereFaceLoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getDouble("margin", DEFAULT_MARGIN), p.getDouble("scale", DEFAULT_SCALE), LossOptions.fromSpec(p, true));
  }
}
