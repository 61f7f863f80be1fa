package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.TanhImpl;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.Tanh()}: {@code tanh(x)}. */
public final class Tanh extends Layer {
  private final TanhImpl impl = keep(new TanhImpl());

  public Tanh() {}

  /** No params. */
  public static Tanh fromSpec(Params p) {
    return new Tanh();
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
