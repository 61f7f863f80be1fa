package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.ReLUImpl;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.ReLU()}: {@code max(x, 0)}. */
public final class ReLU extends Layer {
  private final ReLUImpl impl = keep(new ReLUImpl());

  public ReLU() {}

  /** No params. */
  public static ReLU fromSpec(Params p) {
    return new ReLU();
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
