package org.pml4j.losses;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.regularizers.BaseRegularizer;
import org.pml4j.torch.Owned;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code WeightRegularizerMixin} + {@code WeightMixin} on top of {@link BaseMetricLossFunction}: a loss with
 * learnable tensors (class weights {@code W}, proxies, …) and an optional {@code weight_regularizer}.
 *
 * <p>Parameters are float32 leaves with {@code requires_grad} by default, like PyTorch's; {@link #toParameters}
 * converts them (e.g. to float64). They live outside any {@link org.pml4j.torch.Scope}, so they survive steps.
 */
public abstract class BaseWeightLoss extends BaseMetricLossFunction implements Owned {
  protected final BaseRegularizer weightRegularizer;
  protected final double weightRegWeight;
  private final Map<String, Tensor> params = new LinkedHashMap<>();

  protected BaseWeightLoss(LossOptions options) {
    super(options);
    LossOptions o = options == null ? LossOptions.defaults() : options;
    this.weightRegularizer = o.weightRegularizer();
    this.weightRegWeight = o.weightRegWeight();
  }

  @Override
  protected List<String> regularizationLossNames() {
    // PML walks the MRO: WeightRegularizerMixin comes before EmbeddingRegularizerMixin. Called from the base
    // constructor, hence the read of the base class's options rather than this class's (not yet set) fields.
    List<String> names = new ArrayList<>();
    if (options.weightRegularizer() != null) {
      names.add("weight_reg_loss");
    }
    names.addAll(super.regularizationLossNames());
    return names;
  }

  /** Registers a learnable tensor under PML's parameter name; it becomes a leaf that requires grad. */
  protected final Tensor registerParameter(String name, Tensor value) {
    Tensor p = natives.replace(params.get(name), value.detach().requires_grad_(true));
    params.put(name, p);
    return p;
  }

  /** A registered parameter by name. */
  protected final Tensor param(String name) {
    return params.get(name);
  }

  /**
   * A registered parameter in the dtype and on the device of {@code like}. PML converts the parameter itself in every
   * forward ({@code cast_types}); pml4j uses a differentiable conversion instead, so the registered tensor (and any
   * optimizer holding it) stays valid and still receives the gradient. Call {@link #toParameters} to train in another
   * dtype without per-step conversions.
   */
  protected final Tensor paramLike(String name, Tensor like) {
    Tensor p = param(name);
    if (Tensors.dtype(p) == Tensors.dtype(like) && p.device().equals(like.device())) {
      return p;
    }
    return p.to(like.device(), Tensors.dtype(like));
  }

  /** Rejects labels outside {@code [0, numClasses)} (PyTorch would fail with an index error). */
  protected static void checkLabelRange(Tensor labels, long numClasses) {
    if (labels.numel() == 0) {
      return;
    }
    long lo = labels.min().item_long();
    long hi = labels.max().item_long();
    if (lo < 0 || hi >= numClasses) {
      throw new IllegalArgumentException("labels must be in [0, num_classes) = [0, " + numClasses + "), got values in ["
          + lo + ", " + hi + "]");
    }
  }

  @Override
  public Map<String, Tensor> parameters() {
    return Collections.unmodifiableMap(params);
  }

  @Override
  public void toParameters(ScalarType dtype, Device device) {
    for (Map.Entry<String, Tensor> e : params.entrySet()) {
      Tensor t;
      try (NoGradGuard g = new NoGradGuard()) {
        t = device == null ? e.getValue().to(dtype) : e.getValue().to(device, dtype);
      }
      e.setValue(natives.replace(e.getValue(), t.detach().requires_grad_(true)));
    }
  }

  /** Adds {@code weight_reg_loss = reg(weights) * weight_reg_weight} when a weight regularizer is set. */
  protected void addWeightRegularization(LossDict dict, Tensor weights) {
    if (weightRegularizer != null) {
      dict.put("weight_reg_loss", LossInfo.reduced(weightRegularizer.forward(weights).mul(Tensors.s(weightRegWeight))));
    }
  }

  public BaseRegularizer getWeightRegularizer() {
    return weightRegularizer;
  }

  public double weightRegWeight() {
    return weightRegWeight;
  }

  // ---------------------------------------------------------------- native lifetimes

  /**
   * The owner of the learnable parameters: a trainer adopts it, so closing the trainer frees them.
   */
  private final Owner natives = new Owner();

  @Override
  public final Owner natives() {
    return natives;
  }
}
