package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NormalizeFuncOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.spec.Params;

/**
 * {@code torch.nn.functional.normalize(x, p=2, dim=1, eps=1e-12)}: {@code x / max(‖x‖₂ over dim, eps)}. {@code dim}
 * counts the batch dimension as 0 (as in PyTorch) and must not be it. No parameters.
 */
public final class L2Normalize extends Layer {
  private final long dim;
  private final double eps;

  public L2Normalize() {
    this(1, 1e-12);
  }

  public L2Normalize(long dim, double eps) {
    if (dim == 0) {
      throw bad("L2Normalize", "dim 0 is the batch dimension; use dim >= 1 (or a negative dim)");
    }
    if (!(eps > 0)) {
      throw bad("L2Normalize", "eps must be positive, got " + eps);
    }
    this.dim = dim;
    this.eps = eps;
  }

  /** {@code {"dim": 1, "eps": 1e-12}}. */
  public static L2Normalize fromSpec(Params p) {
    return new L2Normalize(p.getInt("dim", 1), p.getDouble("eps", 1e-12));
  }

  @Override
  public ObjectNode params() {
    return obj().put("dim", dim).put("eps", eps);
  }

  /** The normalized dimension of a batched tensor of per-sample rank {@code r} (1..r). */
  public long resolvedDim(int perSampleRank) {
    long full = perSampleRank + 1L;
    long d = dim < 0 ? dim + full : dim;
    if (d < 1 || d >= full) {
      throw bad("L2Normalize", "dim " + dim + " is out of range for a batched input of rank " + full);
    }
    return d;
  }

  @Override
  public long[] outputShape(long[] in) {
    resolvedDim(in.length);
    return in.clone();
  }

  @Override
  public Module module() {
    return null;
  }

  @Override
  public Tensor forward(Tensor x) {
    NormalizeFuncOptions o = new NormalizeFuncOptions();
    o.p().put(2.0);
    o.dim().put(dim);
    o.eps().put(eps);
    return torch.normalize(x, o);
  }

  public long dim() {
    return dim;
  }

  public double eps() {
    return eps;
  }
}
