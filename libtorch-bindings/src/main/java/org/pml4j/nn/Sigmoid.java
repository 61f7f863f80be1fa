package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.SigmoidImpl;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.Sigmoid()}: {@code 1 / (1 + exp(-x))}. */
public final class Sigmoid extends ElementwiseLayer<SigmoidImpl> {
  public Sigmoid() {
    super(new SigmoidImpl(), SigmoidImpl::forward);
  }

  /** No params. */
  public static Sigmoid fromSpec(Params p) {
    return new Sigmoid();
  }

  @Override
  public ObjectNode params() {
    return obj();
  }
}
