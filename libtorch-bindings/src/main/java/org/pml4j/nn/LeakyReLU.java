package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.LeakyReLUImpl;
import org.bytedeco.pytorch.LeakyReLUOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/** PyTorch's {@code nn.LeakyReLU(negative_slope=0.01)}: {@code x if x >= 0 else negative_slope * x}. */
public final class LeakyReLU extends Layer {
  private final double negativeSlope;
  private final LeakyReLUImpl impl;

  public LeakyReLU() {
    this(0.01);
  }

  public LeakyReLU(double negativeSlope) {
    if (!Double.isFinite(negativeSlope)) {
      throw bad("LeakyReLU", "negative_slope must be finite, got " + negativeSlope);
    }
    this.negativeSlope = negativeSlope;
    LeakyReLUOptions o = new LeakyReLUOptions();
    o.negative_slope().put(negativeSlope);
    this.impl = keep(new LeakyReLUImpl(o));
  }

  /** {@code {"negative_slope": 0.01}}. */
  public static LeakyReLU fromSpec(Params p) {
    return new LeakyReLU(p.getDouble("negative_slope", 0.01));
  }

  @Override
  public ObjectNode params() {
    return obj().put("negative_slope", negativeSlope);
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

  public double negativeSlope() {
    return negativeSlope;
  }
}
