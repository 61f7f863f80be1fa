package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.BatchNorm1dImpl;
import org.bytedeco.pytorch.BatchNormOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True)} with running statistics
 * (buffers {@code running_mean}, {@code running_var}, {@code num_batches_tracked}). Input {@code [B, C]} or
 * {@code [B, C, L]}. Training normalizes with the batch statistics and updates the running ones
 * ({@code running = (1 - momentum) running + momentum batch}, unbiased variance); evaluation uses the running ones,
 * which is what the ONNX export computes.
 */
public final class BatchNorm1d extends Layer {
  private final long numFeatures;
  private final double eps;
  private final double momentum;
  private final boolean affine;
  private final BatchNorm1dImpl impl;

  public BatchNorm1d(long numFeatures) {
    this(numFeatures, 1e-5, 0.1, true);
  }

  public BatchNorm1d(long numFeatures, double eps, double momentum, boolean affine) {
    requirePositive("BatchNorm1d", "num_features", numFeatures);
    if (!(eps > 0)) {
      throw bad("BatchNorm1d", "eps must be positive, got " + eps);
    }
    if (!(momentum >= 0 && momentum <= 1)) {
      throw bad("BatchNorm1d", "momentum must be in [0, 1], got " + momentum);
    }
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine;
    BatchNormOptions o = new BatchNormOptions(numFeatures);
    o.eps().put(eps);
    o.momentum().put(momentum);
    o.affine().put(affine);
    o.track_running_stats().put(true);
    this.impl = keep(new BatchNorm1dImpl(o));
  }

  /** {@code {"num_features": 128, "eps": 1e-5, "momentum": 0.1, "affine": true}}. */
  public static BatchNorm1d fromSpec(Params p) {
    return new BatchNorm1d(Specs.requiredLong(p, "num_features"), p.getDouble("eps", 1e-5),
        p.getDouble("momentum", 0.1), p.getBool("affine", true));
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.put("num_features", numFeatures);
    n.put("eps", eps);
    n.put("momentum", momentum);
    n.put("affine", affine);
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    if ((in.length != 1 && in.length != 2) || in[0] != numFeatures) {
      throw bad("BatchNorm1d", "expects input [" + numFeatures + "] or [" + numFeatures + ", L] (num_features), got "
          + shape(in));
    }
    return in.clone();
  }

  @Override
  public long[] inputShapeHint() {
    return new long[] {numFeatures};
  }

  @Override
  public Module module() {
    return impl;
  }

  @Override
  public Tensor forward(Tensor x) {
    return impl.forward(x);
  }

  public long numFeatures() {
    return numFeatures;
  }

  public double eps() {
    return eps;
  }

  public double momentum() {
    return momentum;
  }

  public boolean affine() {
    return affine;
  }

  /** The scale {@code [C]}, or null without affine. */
  public Tensor weight() {
    return affine ? impl.weight() : null;
  }

  /** The shift {@code [C]}, or null without affine. */
  public Tensor bias() {
    return affine ? impl.bias() : null;
  }

  public Tensor runningMean() {
    return impl.running_mean();
  }

  public Tensor runningVar() {
    return impl.running_var();
  }
}
