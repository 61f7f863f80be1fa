package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * Reshapes every sample to {@code shape} (the batch dimension is kept): {@code x.reshape(B, *shape)}. One entry may
 * be -1. {@code Reshape([1, 28, 28])} turns 784-vectors into {@code [B, 1, 28, 28]} images. No parameters.
 */
public final class Reshape extends Layer {
  private final long[] shape;

  public Reshape(long... shape) {
    if (shape == null || shape.length == 0) {
      throw bad("Reshape", "shape must not be empty");
    }
    int unknown = 0;
    for (long s : shape) {
      if (s == -1) {
        unknown++;
      } else {
        requirePositive("Reshape", "shape entries", s);
      }
    }
    if (unknown > 1) {
      throw bad("Reshape", "at most one -1 in shape, got " + shape(shape));
    }
    this.shape = shape.clone();
  }

  /** {@code {"shape": [1, 28, 28]}} (per sample, without the batch dimension). */
  public static Reshape fromSpec(Params p) {
    long[] s = Specs.longList(p, "shape");
    if (s == null) {
      throw new IllegalArgumentException("missing required parameter 'shape'");
    }
    return new Reshape(s);
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.set("shape", Specs.array(shape));
    return n;
  }

  /** {@code sizes} with its -1 resolved so that the product is {@code numel}. */
  static long[] resolve(String layer, long[] sizes, long numel) {
    long known = 1;
    int unknownAt = -1;
    for (int i = 0; i < sizes.length; i++) {
      if (sizes[i] == -1) {
        unknownAt = i;
      } else {
        known *= sizes[i];
      }
    }
    long[] out = sizes.clone();
    if (unknownAt >= 0) {
      if (known == 0 || numel % known != 0) {
        throw bad(layer, "cannot split " + numel + " elements into " + shape(sizes));
      }
      out[unknownAt] = numel / known;
    } else if (known != numel) {
      throw bad(layer, shape(sizes) + " has " + known + " elements, the input has " + numel);
    }
    return out;
  }

  @Override
  public long[] outputShape(long[] in) {
    return resolve("Reshape", shape, product(in, 0, in.length));
  }

  @Override
  public long[] inputShapeHint() {
    for (long s : shape) {
      if (s < 0) {
        return null;
      }
    }
    return new long[] {product(shape, 0, shape.length)};
  }

  @Override
  public Module module() {
    return null;
  }

  @Override
  public Tensor forward(Tensor x) {
    long[] perSample = new long[(int) x.dim() - 1];
    for (int i = 0; i < perSample.length; i++) {
      perSample[i] = x.size(i + 1);
    }
    long[] target = resolve("Reshape", shape, product(perSample, 0, perSample.length));
    long[] full = new long[target.length + 1];
    full[0] = x.size(0);
    System.arraycopy(target, 0, full, 1, target.length);
    return x.reshape(full);
  }

  /** The per-sample target shape as given (may hold one -1). */
  public long[] shape() {
    return shape.clone();
  }
}
