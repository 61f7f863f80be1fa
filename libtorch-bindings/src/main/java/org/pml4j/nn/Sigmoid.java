package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.SigmoidImpl;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.Sigmoid()}: {@code 1 / (1 + exp(-x))}. */
public final class Sigmoid extends Layer {
  private final SigmoidImpl impl = keep(new SigmoidImpl());

  public Sigmoid() {}

  /** No params. */
  public static Sigmoid fromSpec(Params p) {
    return new Sigmoid();
  }

  @Override
  public ObjectNode params() {
    return obj();
  }

  @Override
  public long[] outputShape(long[] in) {
    return in.clone();
  }

  @Override
  public Module module() {
    return impl;
  }

  @Override
  public Tensor forward(Tensor x) {
    return impl.forward(x);
  }
}
