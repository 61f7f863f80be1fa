package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.GELUImpl;
import org.bytedeco.pytorch.GELUOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.GELU(approximate='none')}: {@code 0.5 x (1 + erf(x / √2))}; with {@code approximate='tanh'}
 * {@code 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))}.
 */
public final class GELU extends Layer {
  private final String approximate;
  private final GELUImpl impl;

  public GELU() {
    this("none");
  }

  public GELU(String approximate) {
    if (!"none".equals(approximate) && !"tanh".equals(approximate)) {
      throw bad("GELU", "approximate must be 'none' or 'tanh', got '" + approximate + "'");
    }
    this.approximate = approximate;
    GELUOptions o = new GELUOptions();
    o.approximate(approximate);
    this.impl = keep(new GELUImpl(o));
  }

  /** {@code {"approximate": "none"}} (or {@code "tanh"}). */
  public static GELU fromSpec(Params p) {
    return new GELU(p.getString("approximate", "none"));
  }

  @Override
  public ObjectNode params() {
    return obj().put("approximate", approximate);
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

  public String approximate() {
    return approximate;
  }
}
