package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.ReLUImpl;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.ReLU()}: {@code max(x, 0)}. */
public final class ReLU extends ElementwiseLayer<ReLUImpl> {
  public ReLU() {
    super(new ReLUImpl(), ReLUImpl::forward);
  }

  /** No params. */
  public static ReLU fromSpec(Params p) {
    return new ReLU();
  }

  @Override
  public ObjectNode params() {
    return obj();
  }
}
