package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * A pre-norm residual MLP block over the last dimension:
 *
 * <pre>
 *   y = x + fc2(relu(fc1(norm(x))))
 *   norm = LayerNorm(features, eps), fc1 = Linear(features, hidden_features), fc2 = Linear(hidden_features, features)
 * </pre>
 *
 * Parameters {@code norm.weight, norm.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias}. Output shape = input shape.
 */
public final class ResidualMLP extends Layer {
  private final long features;
  private final long hiddenFeatures;
  private final double eps;
  private final LayerNorm norm;
  private final Linear fc1;
  private final Linear fc2;
  private final Module root;

  public ResidualMLP(long features, long hiddenFeatures) {
    this(features, hiddenFeatures, 1e-5);
  }

  public ResidualMLP(long features, long hiddenFeatures, double eps) {
    requirePositive("ResidualMLP", "features", features);
    requirePositive("ResidualMLP", "hidden_features", hiddenFeatures);
    this.features = features;
    this.hiddenFeatures = hiddenFeatures;
    this.eps = eps;
    this.norm = new LayerNorm(new long[] {features}, eps, true);
    this.fc1 = new Linear(features, hiddenFeatures);
    this.fc2 = new Linear(hiddenFeatures, features);
    this.root = keep(new Module("ResidualMLP"));
    root.register_module("norm", norm.module());
    root.register_module("fc1", fc1.module());
    root.register_module("fc2", fc2.module());
  }

  /** {@code {"features": 128, "hidden_features": 256, "eps": 1e-5}} (hidden_features defaults to features). */
  public static ResidualMLP fromSpec(Params p) {
    long f = Specs.requiredLong(p, "features");
    Integer h = p.getIntOrNull("hidden_features");
    return new ResidualMLP(f, h == null ? f : h, p.getDouble("eps", 1e-5));
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.put("features", features);
    n.put("hidden_features", hiddenFeatures);
    n.put("eps", eps);
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    if (in.length < 1 || in[in.length - 1] != features) {
      throw bad("ResidualMLP", "expects input [..., " + features + "] (features), got " + shape(in));
    }
    return in.clone();
  }

  @Override
  public long[] inputShapeHint() {
    return new long[] {features};
  }

  @Override
  public Module module() {
    return root;
  }

  @Override
  public void train(boolean on) {
    super.train(on);
    norm.train(on);
    fc1.train(on);
    fc2.train(on);
  }

  @Override
  public Tensor forward(Tensor x) {
    return x.add(fc2.forward(fc1.forward(norm.forward(x)).relu()));
  }

  public long features() {
    return features;
  }

  public long hiddenFeatures() {
    return hiddenFeatures;
  }

  public double eps() {
    return eps;
  }

  public LayerNorm norm() {
    return norm;
  }

  public Linear fc1() {
    return fc1;
  }

  public Linear fc2() {
    return fc2;
  }

  @Override
  protected java.util.List<Layer> children() {
    return java.util.List.of(norm, fc1, fc2);
  }
}
