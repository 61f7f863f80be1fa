package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.TanhImpl;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.Tanh()}: {@code tanh(x)}. */
public final class Tanh extends ElementwiseLayer<TanhImpl> {
  public Tanh() {
    super(new TanhImpl(), TanhImpl::forward);
  }

  /** No params. */
  public static Tanh fromSpec(Params p) {
    return new Tanh();
  }

  @Override
  public ObjectNode params() {
    return obj();
  }
}
