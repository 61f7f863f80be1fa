package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LinearOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.Linear(in_features, out_features, bias=True)}: {@code y = x Wᵀ + b} over the last dimension,
 * {@code W} of shape {@code [out_features, in_features]}; LibTorch's default (Kaiming-uniform) initialization.
 */
public final class Linear extends Layer {
  private final long inFeatures;
  private final long outFeatures;
  private final boolean bias;
  private final LinearImpl impl;

  public Linear(long inFeatures, long outFeatures) {
    this(inFeatures, outFeatures, true);
  }

  public Linear(long inFeatures, long outFeatures, boolean bias) {
    requirePositive("Linear", "in_features", inFeatures);
    requirePositive("Linear", "out_features", outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.bias = bias;
    LinearOptions o = new LinearOptions(inFeatures, outFeatures);
    o.bias().put(bias);
    this.impl = keep(new LinearImpl(o));
  }

  /** {@code {"in_features": 784, "out_features": 128, "bias": true}}. */
  public static Linear fromSpec(Params p) {
    return new Linear(Specs.requiredLong(p, "in_features"), Specs.requiredLong(p, "out_features"),
        p.getBool("bias", true));
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.put("in_features", inFeatures);
    n.put("out_features", outFeatures);
    n.put("bias", bias);
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    if (in.length < 1 || in[in.length - 1] != inFeatures) {
      throw bad("Linear", "expects input [..., " + inFeatures + "] (in_features), got " + shape(in));
    }
    long[] out = in.clone();
    out[out.length - 1] = outFeatures;
    return out;
  }

  @Override
  public long[] inputShapeHint() {
    return new long[] {inFeatures};
  }

  @Override
  public Module module() {
    return impl;
  }

  @Override
  public Tensor forward(Tensor x) {
    return impl.forward(x);
  }

  /** The weight {@code [out_features, in_features]}. */
  public Tensor weight() {
    return impl.weight();
  }

  /** The bias {@code [out_features]}, or null without bias. */
  public Tensor bias() {
    return bias ? impl.bias() : null;
  }

  public long inFeatures() {
    return inFeatures;
  }

  public long outFeatures() {
    return outFeatures;
  }

  public boolean hasBias() {
    return bias;
  }
}
