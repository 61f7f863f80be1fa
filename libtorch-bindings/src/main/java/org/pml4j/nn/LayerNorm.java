package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LayerNormOptions;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True)}: normalizes over the trailing
 * {@code normalized_shape} dimensions with the biased variance, {@code (x - mean) / sqrt(var + eps) * weight + bias}.
 */
public final class LayerNorm extends Layer {
  private final long[] normalizedShape;
  private final double eps;
  private final boolean elementwiseAffine;
  private final LayerNormImpl impl;

  public LayerNorm(long... normalizedShape) {
    this(normalizedShape, 1e-5, true);
  }

  public LayerNorm(long[] normalizedShape, double eps, boolean elementwiseAffine) {
    if (normalizedShape == null || normalizedShape.length == 0) {
      throw bad("LayerNorm", "normalized_shape must have at least one dimension");
    }
    for (long d : normalizedShape) {
      requirePositive("LayerNorm", "normalized_shape entries", d);
    }
    if (!(eps > 0)) {
      throw bad("LayerNorm", "eps must be positive, got " + eps);
    }
    this.normalizedShape = normalizedShape.clone();
    this.eps = eps;
    this.elementwiseAffine = elementwiseAffine;
    LayerNormOptions o = new LayerNormOptions(new LongVector(normalizedShape));
    o.eps().put(eps);
    o.elementwise_affine().put(elementwiseAffine);
    this.impl = keep(new LayerNormImpl(o));
  }

  /** {@code {"normalized_shape": 128, "eps": 1e-5, "elementwise_affine": true}} (shape: an int or a list). */
  public static LayerNorm fromSpec(Params p) {
    long[] shape = Specs.longList(p, "normalized_shape");
    if (shape == null) {
      throw new IllegalArgumentException("missing required parameter 'normalized_shape'");
    }
    return new LayerNorm(shape, p.getDouble("eps", 1e-5), p.getBool("elementwise_affine", true));
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.set("normalized_shape", Specs.array(normalizedShape));
    n.put("eps", eps);
    n.put("elementwise_affine", elementwiseAffine);
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    int k = normalizedShape.length;
    if (in.length < k || !Arrays.equals(Arrays.copyOfRange(in, in.length - k, in.length), normalizedShape)) {
      throw bad("LayerNorm", "expects input ending in normalized_shape " + shape(normalizedShape) + ", got "
          + shape(in));
    }
    return in.clone();
  }

  @Override
  public long[] inputShapeHint() {
    return normalizedShape.clone();
  }

  @Override
  public Module module() {
    return impl;
  }

  @Override
  public Tensor forward(Tensor x) {
    return impl.forward(x);
  }

  public long[] normalizedShape() {
    return normalizedShape.clone();
  }

  public double eps() {
    return eps;
  }

  public boolean elementwiseAffine() {
    return elementwiseAffine;
  }

  /** The scale (shape {@code normalized_shape}), or null without elementwise affine. */
  public Tensor weight() {
    return elementwiseAffine ? impl.weight() : null;
  }

  /** The shift, or null without elementwise affine. */
  public Tensor bias() {
    return elementwiseAffine ? impl.bias() : null;
  }
}
