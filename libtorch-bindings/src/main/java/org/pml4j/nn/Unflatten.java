package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.UnflattenImpl;
import org.bytedeco.pytorch.UnflattenOptions;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.Unflatten(dim, unflattened_size)}: splits dimension {@code dim} (batch = 0, not allowed) into
 * {@code unflattened_size} (one entry may be -1). {@code Unflatten(1, [1, 28, 28])} turns 784-vectors into
 * {@code [B, 1, 28, 28]} images.
 */
public final class Unflatten extends Layer {
  private final long dim;
  private final long[] sizes;
  private final UnflattenImpl impl;

  public Unflatten(long dim, long... unflattenedSize) {
    if (dim == 0) {
      throw bad("Unflatten", "dim 0 is the batch dimension; use dim >= 1");
    }
    if (unflattenedSize == null || unflattenedSize.length == 0) {
      throw bad("Unflatten", "unflattened_size must not be empty");
    }
    int unknown = 0;
    for (long s : unflattenedSize) {
      if (s == -1) {
        unknown++;
      } else {
        requirePositive("Unflatten", "unflattened_size entries", s);
      }
    }
    if (unknown > 1) {
      throw bad("Unflatten", "at most one -1 in unflattened_size, got " + shape(unflattenedSize));
    }
    this.dim = dim;
    this.sizes = unflattenedSize.clone();
    this.impl = keep(new UnflattenImpl(new UnflattenOptions(dim, new LongVector(unflattenedSize))));
  }

  /** {@code {"dim": 1, "unflattened_size": [1, 28, 28]}}. */
  public static Unflatten fromSpec(Params p) {
    long[] s = Specs.longList(p, "unflattened_size");
    if (s == null) {
      throw new IllegalArgumentException("missing required parameter 'unflattened_size'");
    }
    return new Unflatten(p.getInt("dim", 1), s);
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.put("dim", dim);
    n.set("unflattened_size", Specs.array(sizes));
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    int full = in.length + 1;
    long d = dim < 0 ? dim + full : dim;
    if (d < 1 || d >= full) {
      throw bad("Unflatten", "dim " + dim + " is out of range for a batched input of rank " + full);
    }
    int a = (int) d - 1;
    long[] resolved = Reshape.resolve("Unflatten", sizes, in[a]);
    long[] out = new long[in.length - 1 + resolved.length];
    System.arraycopy(in, 0, out, 0, a);
    System.arraycopy(resolved, 0, out, a, resolved.length);
    System.arraycopy(in, a + 1, out, a + resolved.length, in.length - a - 1);
    return out;
  }

  @Override
  public long[] inputShapeHint() {
    for (long s : sizes) {
      if (s < 0) {
        return null;
      }
    }
    return dim == 1 || dim == -1 ? new long[] {product(sizes, 0, sizes.length)} : null;
  }

  @Override
  public Module module() {
    return impl;
  }

  @Override
  public Tensor forward(Tensor x) {
    return impl.forward(x);
  }

  public long dim() {
    return dim;
  }

  public long[] unflattenedSize() {
    return sizes.clone();
  }
}
