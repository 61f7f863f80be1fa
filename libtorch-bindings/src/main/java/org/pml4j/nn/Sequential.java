package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.Sequential}: layers applied in order; the encoder of pml4j.
 *
 * <pre>{@code
 * {"class": "Sequential", "params": {
 *    "input_shape": [784],                       // optional: per-sample input shape, inferred when absent
 *    "layers": [{"class": "Linear", "params": {"in_features": 784, "out_features": 128}},
 *               {"class": "ReLU"},
 *               {"class": "Linear", "params": {"in_features": 128, "out_features": 64}},
 *               {"class": "L2Normalize"}]}}
 * }</pre>
 *
 * <p>Child modules are registered under their index, so parameter names are PyTorch's state_dict names
 * ({@code 0.weight}, {@code 2.bias}, {@code 3.norm.weight}). The constructor runs shape inference over the whole chain
 * and rejects mismatched sizes, naming the layer. When {@code input_shape} is absent it is taken from the first layer
 * that fixes its own input ({@code Linear → [in_features]}, {@code Unflatten(1, s)/Reshape(s) → [prod(s)]}, LayerNorm,
 * BatchNorm1d, ResidualMLP); a chain that starts with Conv2d/MaxPool2d/Flatten needs an explicit {@code input_shape}.
 */
public final class Sequential extends Layer {
  private final List<Layer> layers;
  private final long[] inputShape;
  private final long[] outputShape;
  private final Module root;

  public Sequential(List<? extends Layer> layers) {
    this(layers, null);
  }

  /**
   * @param layers the layers, in order (not empty)
   * @param inputShape the per-sample input shape, or null to infer it
   */
  public Sequential(List<? extends Layer> layers, long[] inputShape) {
    if (layers == null || layers.isEmpty()) {
      throw bad("Sequential", "layers must not be empty");
    }
    for (int i = 0; i < layers.size(); i++) {
      if (layers.get(i) == null) {
        throw bad("Sequential", "layer " + i + " is null");
      }
    }
    this.layers = List.copyOf(layers);
    this.inputShape = inputShape != null ? inputShape.clone() : inferInputShape(this.layers);
    for (long d : this.inputShape) {
      requirePositive("Sequential", "input_shape entries", d);
    }
    long[] shape = this.inputShape;
    for (int i = 0; i < this.layers.size(); i++) {
      Layer l = this.layers.get(i);
      try {
        shape = l.outputShape(shape);
      } catch (IllegalArgumentException e) {
        throw bad("Sequential", "layer " + i + " (" + l.typeName() + ") does not fit its input: " + e.getMessage()
            + " [input_shape " + shape(this.inputShape) + "]");
      }
    }
    this.outputShape = shape;
    this.root = keep(new Module("Sequential"));
    for (int i = 0; i < this.layers.size(); i++) {
      Module m = this.layers.get(i).module();
      if (m != null) {
        root.register_module(Integer.toString(i), m);
      }
    }
  }

  private static long[] inferInputShape(List<Layer> layers) {
    for (Layer l : layers) {
      long[] hint = l.inputShapeHint();
      if (hint != null) {
        return hint;
      }
      if (!(l instanceof ReLU || l instanceof GELU || l instanceof LeakyReLU || l instanceof Tanh
          || l instanceof Sigmoid || l instanceof Dropout || l instanceof L2Normalize)) {
        break;
      }
    }
    throw bad("Sequential", "cannot infer the input shape from the first layers ("
        + layers.get(0).typeName() + " does not fix it); give \"input_shape\", e.g. [1, 28, 28]");
  }

  /** {@code {"layers": [spec, ...], "input_shape": [d, ...]}} (input_shape optional). */
  public static Sequential fromSpec(Params p) {
    List<Layer> layers = p.getComponentList("layers", Layer.class);
    if (layers == null) {
      throw new IllegalArgumentException("missing required parameter 'layers' (a list of layer specs)");
    }
    return new Sequential(layers, Specs.longList(p, "input_shape"));
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.set("input_shape", Specs.array(inputShape));
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    for (Layer l : layers) {
      a.add(l.toSpec());
    }
    n.set("layers", a);
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    if (!java.util.Arrays.equals(in, inputShape)) {
      throw bad("Sequential", "expects input " + shape(inputShape) + " (its input_shape), got " + shape(in));
    }
    return outputShape.clone();
  }

  @Override
  public long[] inputShapeHint() {
    return inputShape.clone();
  }

  @Override
  public Module module() {
    return root;
  }

  @Override
  public void train(boolean on) {
    super.train(on);
    for (Layer l : layers) {
      l.train(on);
    }
  }

  /**
   * Applies the layers in order to a batch {@code [B, *input_shape]}.
   *
   * @throws IllegalArgumentException when {@code x} is not {@code [B, *input_shape]}
   */
  @Override
  public Tensor forward(Tensor x) {
    boolean ok = x.dim() == inputShape.length + 1;
    for (int i = 0; ok && i < inputShape.length; i++) {
      ok = x.size(i + 1) == inputShape[i];
    }
    if (!ok) {
      long[] got = new long[(int) x.dim()];
      for (int i = 0; i < got.length; i++) {
        got[i] = x.size(i);
      }
      throw new IllegalArgumentException("Sequential expects input [B, " + shape(inputShape).substring(1)
          + ", got " + shape(got));
    }
    Tensor h = x;
    for (Layer l : layers) {
      h = l.forward(h);
    }
    return h;
  }

  /** The layers, in order. */
  public List<Layer> layers() {
    return Collections.unmodifiableList(new ArrayList<>(layers));
  }

  /** The per-sample input shape. */
  public long[] inputShape() {
    return inputShape.clone();
  }

  /** The per-sample output shape. */
  public long[] outputShape() {
    return outputShape.clone();
  }

  /**
   * The embedding size: the output's only dimension.
   *
   * @throws IllegalStateException when the output per sample is not a vector (add a Flatten)
   */
  public long embeddingSize() {
    if (outputShape.length != 1) {
      throw new IllegalStateException("the encoder's output per sample is " + shape(outputShape)
          + ", not a vector; end it with Flatten");
    }
    return outputShape[0];
  }

  /** Number of input values per sample (the product of {@link #inputShape()}). */
  public long inputSize() {
    return product(inputShape, 0, inputShape.length);
  }

  @Override
  protected List<Layer> children() {
    return layers;
  }
}
