package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.FlattenImpl;
import org.bytedeco.pytorch.FlattenOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.Flatten(start_dim=1, end_dim=-1)}: merges dimensions {@code start_dim..end_dim} (the batch
 * dimension is 0 and may not be merged). {@code [B, C, H, W] → [B, C·H·W]} by default.
 */
public final class Flatten extends Layer {
  private final long startDim;
  private final long endDim;
  private final FlattenImpl impl;

  public Flatten() {
    this(1, -1);
  }

  public Flatten(long startDim, long endDim) {
    if (startDim == 0) {
      throw bad("Flatten", "start_dim 0 would merge the batch dimension; use start_dim >= 1");
    }
    this.startDim = startDim;
    this.endDim = endDim;
    FlattenOptions o = new FlattenOptions();
    o.start_dim().put(startDim);
    o.end_dim().put(endDim);
    this.impl = keep(new FlattenImpl(o));
  }

  /** {@code {"start_dim": 1, "end_dim": -1}}. */
  public static Flatten fromSpec(Params p) {
    return new Flatten(p.getInt("start_dim", 1), p.getInt("end_dim", -1));
  }

  @Override
  public ObjectNode params() {
    return obj().put("start_dim", startDim).put("end_dim", endDim);
  }

  @Override
  public long[] outputShape(long[] in) {
    int full = in.length + 1;
    long s = startDim < 0 ? startDim + full : startDim;
    long e = endDim < 0 ? endDim + full : endDim;
    if (s < 1 || e >= full || s > e) {
      throw bad("Flatten", "start_dim " + startDim + ", end_dim " + endDim + " do not fit a batched input of rank "
          + full + " (per sample " + shape(in) + ")");
    }
    int a = (int) s - 1;
    int b = (int) e - 1;
    long[] out = new long[in.length - (b - a)];
    System.arraycopy(in, 0, out, 0, a);
    out[a] = product(in, a, b + 1);
    System.arraycopy(in, b + 1, out, a + 1, in.length - b - 1);
    return out;
  }

  @Override
  public Module module() {
    return impl;
  }

  @Override
  public Tensor forward(Tensor x) {
    return impl.forward(x);
  }

  public long startDim() {
    return startDim;
  }

  public long endDim() {
    return endDim;
  }
}
