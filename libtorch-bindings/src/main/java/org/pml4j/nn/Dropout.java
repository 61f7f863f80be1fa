package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.DropoutImpl;
import org.bytedeco.pytorch.DropoutOptions;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.Dropout(p=0.5)}: in training, zeroes each element with probability {@code p} and scales the rest
 * by {@code 1/(1-p)} (LibTorch's RNG); in evaluation, the identity (and so the identity in the ONNX export).
 */
public final class Dropout extends ElementwiseLayer<DropoutImpl> {
  private final double p;

  public Dropout() {
    this(0.5);
  }

  public Dropout(double p) {
    super(module(p), DropoutImpl::forward);
    this.p = p;
  }

  private static DropoutImpl module(double p) {
    if (!(p >= 0 && p <= 1)) {
      throw bad("Dropout", "p must be in [0, 1], got " + p);
    }
    return new DropoutImpl(new DropoutOptions(p));
  }

  /** {@code {"p": 0.5}}. */
  public static Dropout fromSpec(Params params) {
    return new Dropout(params.getDouble("p", 0.5));
  }

  @Override
  public ObjectNode params() {
    return obj().put("p", p);
  }

  public double p() {
    return p;
  }
}
