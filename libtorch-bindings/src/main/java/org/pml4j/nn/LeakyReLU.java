package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.LeakyReLUImpl;
import org.bytedeco.pytorch.LeakyReLUOptions;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.LeakyReLU(negative_slope=0.01)}: {@code x if x >= 0 else negative_slope * x}. */
public final class LeakyReLU extends ElementwiseLayer<LeakyReLUImpl> {
  private final double negativeSlope;

  public LeakyReLU() {
    this(0.01);
  }

  public LeakyReLU(double negativeSlope) {
    super(module(negativeSlope), LeakyReLUImpl::forward);
    this.negativeSlope = negativeSlope;
  }

  private static LeakyReLUImpl module(double negativeSlope) {
    if (!Double.isFinite(negativeSlope)) {
      throw bad("LeakyReLU", "negative_slope must be finite, got " + negativeSlope);
    }
    LeakyReLUOptions o = new LeakyReLUOptions();
    o.negative_slope().put(negativeSlope);
    return new LeakyReLUImpl(o);
  }

  /** {@code {"negative_slope": 0.01}}. */
  public static LeakyReLU fromSpec(Params p) {
    return new LeakyReLU(p.getDouble("negative_slope", 0.01));
  }

  @Override
  public ObjectNode params() {
    return obj().put("negative_slope", negativeSlope);
  }

  public double negativeSlope() {
    return negativeSlope;
  }
}
