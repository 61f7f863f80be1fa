package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.GELUImpl;
import org.bytedeco.pytorch.GELUOptions;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.GELU(approximate='none')}: {@code 0.5 x (1 + erf(x / √2))}; with {@code approximate='tanh'}
 * {@code 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))}.
 */
public final class GELU extends ElementwiseLayer<GELUImpl> {
  private final String approximate;

  public GELU() {
    this("none");
  }

  public GELU(String approximate) {
    super(module(approximate), GELUImpl::forward);
    this.approximate = approximate;
  }

  private static GELUImpl module(String approximate) {
    if (!"none".equals(approximate) && !"tanh".equals(approximate)) {
      throw bad("GELU", "approximate must be 'none' or 'tanh', got '" + approximate + "'");
    }
    GELUOptions o = new GELUOptions();
    o.approximate(approximate);
    return new GELUImpl(o);
  }

  /** {@code {"approximate": "none"}} (or {@code "tanh"}). */
  public static GELU fromSpec(Params p) {
    return new GELU(p.getString("approximate", "none"));
  }

  @Override
  public ObjectNode params() {
    return obj().put("approximate", approximate);
  }

  public String approximate() {
    return approximate;
  }
}
