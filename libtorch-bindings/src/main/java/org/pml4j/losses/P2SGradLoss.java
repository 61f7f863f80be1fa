package org.pml4j.losses;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code P2SGradLoss} (Zhang et al., CVPR 2019): the mean squared error between the cosines
 * {@code cos θ_ij = x_i·w_j / ‖x_i‖} (clamped to [-1, 1]) and the one-hot label matrix, averaged over the
 * {@code B × num_classes} entries. Its gradient is P2SGrad's equation 11.
 *
 * <p>The learnable {@code weight} is {@code [descriptors_dim, num_classes]} with unit-norm columns; every forward pass
 * first re-normalizes it in place, {@code weight = renorm(weight, 2, 1, 1e-5) · 1e5} (as PML does), and checks that
 * its column norms are 1 within 1e-5. The configured distance is not used (PML computes the cosine itself).
 *
 * <p>Labels are required and must lie in {@code [0, num_classes)}; indices tuples and reference sets are not
 * supported. The result is already reduced (the reducer sees {@code already_reduced}). PML's class has no
 * {@code weight_regularizer}.
 */
public class P2SGradLoss extends BaseWeightLoss {
  private final int descriptorsDim;
  private final int numClasses;

  /** PML's signature: {@code (descriptors_dim, num_classes)}, note the order. */
  public P2SGradLoss(int descriptorsDim, int numClasses) {
    this(descriptorsDim, numClasses, LossOptions.defaults());
  }

  /**
   * @param descriptorsDim embedding width (rows of {@code weight})
   * @param numClasses number of classes (columns of {@code weight})
   * @param options reducer and embedding regularizer (the distance is unused; no weight regularizer)
   */
  public P2SGradLoss(int descriptorsDim, int numClasses, LossOptions options) {
    super(options);
    if (options != null && options.weightRegularizer() != null) {
      throw new IllegalArgumentException("P2SGradLoss does not take a weight_regularizer");
    }
    if (descriptorsDim < 1) {
      throw new IllegalArgumentException("descriptors_dim must be >= 1, got " + descriptorsDim);
    }
    if (numClasses < 1) {
      throw new IllegalArgumentException("num_classes must be >= 1, got " + numClasses);
    }
    this.descriptorsDim = descriptorsDim;
    this.numClasses = numClasses;
    // PML: uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5) on a float32 tensor: unit-norm columns.
    Tensor w = torch.zeros(new long[] {descriptorsDim, numClasses}, new TensorOptions(ScalarType.Float))
        .uniform_(-1, 1, new org.bytedeco.pytorch.GeneratorOptional());
    registerParameter("weight", renormalized(w));
  }

  private static Tensor renormalized(Tensor w) {
    return w.renorm(Tensors.s(2.0), 1, Tensors.s(1e-5)).mul(Tensors.s(1e5));
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    refNotSupported(embeddings, labels, refEmb, refLabels);
    indicesTupleNotSupported(indicesTuple);
    labelsRequired(labels);
    checkLabelRange(labels, numClasses);
    if (embeddings.size(1) != descriptorsDim) {
      throw new IllegalArgumentException(
          "embeddings must have descriptors_dim = " + descriptorsDim + " columns, got " + embeddings.size(1));
    }
    // PML: weight.data = weight.data.renorm(2, 1, 1e-5).mul(1e5), then moved to the embeddings' dtype and device.
    try (NoGradGuard g = new NoGradGuard()) {
      Tensor w = param("weight");
      w.copy_(renormalized(w));
    }
    Tensor weight = param("weight");
    if (Tensors.dtype(weight) != Tensors.dtype(embeddings)
        || !weight.device().equals(embeddings.device())) {
      toParameters(Tensors.dtype(embeddings), embeddings.device());
      weight = param("weight");
    }
    double rtol = Tensors.dtype(embeddings) == ScalarType.Half ? 1e-2 : 1e-5;
    Tensor wModulus = weight.detach().pow(Tensors.s(2.0)).sum(new long[] {0}, false, new ScalarTypeOptional())
        .pow(Tensors.s(0.5));
    if (!wModulus.sub(Tensors.s(1.0)).abs().lt(Tensors.s(rtol)).all().item_bool()) {
      throw new IllegalStateException("P2SGradLoss: the columns of weight do not have unit norm");
    }
    // W·x = ‖W‖·‖x‖·cos θ with ‖W_j‖ = 1
    Tensor xModulus = embeddings.pow(Tensors.s(2.0)).sum(new long[] {1}, false, new ScalarTypeOptional())
        .pow(Tensors.s(0.5));
    Tensor cosTheta = embeddings.mm(weight).div(xModulus.view(-1, 1))
        .clamp(new ScalarOptional(Tensors.s(-1.0)), new ScalarOptional(Tensors.s(1.0)));
    Tensor index;
    try (NoGradGuard g = new NoGradGuard()) {
      index = torch.zeros_like(cosTheta).scatter_(1, labels.view(-1, 1), Tensors.s(1.0));
    }
    Tensor loss = torch.mse_loss(cosTheta, index, 1L); // reduction = mean
    return LossDict.of("loss", LossInfo.reduced(loss));
  }

  public int descriptorsDim() {
    return descriptorsDim;
  }

  public int numClasses() {
    return numClasses;
  }

  /** Registry factory: {@code descriptors_dim}, {@code num_classes} (required) and the common kwargs. */
  public static P2SGradLoss fromSpec(Params p) {
    return new P2SGradLoss(p.getRequiredInt("descriptors_dim"),
        p.getRequiredInt("num_classes"), LossOptions.fromSpec(p, false));
  }
}
