package org.pml4j.nn;

import java.util.Objects;
import java.util.function.BiFunction;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * A layer that keeps its input's shape and runs one LibTorch module: the activations ({@link ReLU}, {@link GELU},
 * {@link LeakyReLU}, {@link Tanh}, {@link Sigmoid}) and {@link Dropout}. Subclasses give the module, its forward
 * method and their {@link #params()}.
 *
 * @param <M> the LibTorch module type
 */
public abstract class ElementwiseLayer<M extends Module> extends Layer {
  private final M impl;
  private final BiFunction<M, Tensor, Tensor> forward;

  /**
   * @param impl the module (owned by this layer)
   * @param forward its forward method, e.g. {@code ReLUImpl::forward}
   */
  protected ElementwiseLayer(M impl, BiFunction<M, Tensor, Tensor> forward) {
    this.impl = keep(Objects.requireNonNull(impl, "impl"));
    this.forward = Objects.requireNonNull(forward, "forward");
  }

  @Override
  public final long[] outputShape(long[] in) {
    return in.clone();
  }

  @Override
  public final Module module() {
    return impl;
  }

  @Override
  public final Tensor forward(Tensor x) {
    return forward.apply(impl, x);
  }
}
