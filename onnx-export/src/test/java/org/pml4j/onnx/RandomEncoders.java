package org.pml4j.onnx;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.nn.Sequential;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/** Random encoder specs for the parity tests, and "trained-looking" weights. */
final class RandomEncoders {
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  private RandomEncoders() {}

  static ObjectNode layer(String cls, Object... kv) {
    ObjectNode n = F.objectNode();
    n.put("class", cls);
    ObjectNode p = n.putObject("params");
    for (int i = 0; i < kv.length; i += 2) {
      Object v = kv[i + 1];
      String k = (String) kv[i];
      if (v instanceof Integer x) {
        p.put(k, x);
      } else if (v instanceof Long x) {
        p.put(k, x);
      } else if (v instanceof Double x) {
        p.put(k, x);
      } else if (v instanceof Boolean x) {
        p.put(k, x);
      } else if (v instanceof String x) {
        p.put(k, x);
      } else if (v instanceof int[] a) {
        ArrayNode arr = p.putArray(k);
        for (int x : a) {
          arr.add(x);
        }
      } else {
        throw new IllegalArgumentException(k + "=" + v);
      }
    }
    return n;
  }

  static ObjectNode sequential(ArrayNode layers, int[] inputShape) {
    ObjectNode n = F.objectNode();
    n.put("class", "Sequential");
    ObjectNode p = n.putObject("params");
    if (inputShape != null) {
      ArrayNode a = p.putArray("input_shape");
      for (int d : inputShape) {
        a.add(d);
      }
    }
    p.set("layers", layers);
    return n;
  }

  private static ObjectNode activation(Random r) {
    switch (r.nextInt(6)) {
      case 0: return layer("ReLU");
      case 1: return layer("GELU", "approximate", r.nextBoolean() ? "none" : "tanh");
      case 2: return layer("LeakyReLU", "negative_slope", 0.01 + 0.3 * r.nextDouble());
      case 3: return layer("Tanh");
      case 4: return layer("Sigmoid");
      default: return layer("GELU");
    }
  }

  /**
   * A random MLP: Linear, BatchNorm1d, LayerNorm, activations, Dropout, ResidualMLP, a Reshape to [2, d/2] with a
   * Linear on rank 2 (MatMul path) and LayerNorm over two dims, Flatten back, and an optional L2Normalize.
   */
  static ObjectNode mlp(Random r) {
    ArrayNode layers = F.arrayNode();
    int in = 4 + r.nextInt(40);
    int width = 2 * (4 + r.nextInt(30));
    layers.add(layer("Linear", "in_features", in, "out_features", width, "bias", r.nextBoolean()));
    layers.add(layer("BatchNorm1d", "num_features", width, "eps", 1e-5 * (1 + r.nextInt(100)), "momentum",
        0.05 + 0.5 * r.nextDouble(), "affine", r.nextInt(4) != 0));
    layers.add(activation(r));
    layers.add(layer("Dropout", "p", 0.5 * r.nextDouble()));
    layers.add(layer("LayerNorm", "normalized_shape", new int[] {width}, "eps", 1e-6 * (1 + r.nextInt(10)),
        "elementwise_affine", r.nextInt(4) != 0));
    layers.add(layer("ResidualMLP", "features", width, "hidden_features", 4 + r.nextInt(40)));
    layers.add(activation(r));
    // Rank-2 per sample: Linear via MatMul + Add, LayerNorm over two dimensions, L2 over dim 2, then Flatten.
    layers.add(layer("Reshape", "shape", new int[] {2, -1}));
    int half = width / 2;
    int w2 = 3 + r.nextInt(20);
    layers.add(layer("Linear", "in_features", half, "out_features", w2, "bias", r.nextBoolean()));
    layers.add(layer("LayerNorm", "normalized_shape", new int[] {2, w2}));
    layers.add(layer("BatchNorm1d", "num_features", 2));
    if (r.nextBoolean()) {
      layers.add(layer("L2Normalize", "dim", 2, "eps", 1e-12));
    }
    layers.add(layer("Flatten", "start_dim", 1, "end_dim", -1));
    layers.add(activation(r));
    int out = 2 + r.nextInt(32);
    layers.add(layer("Linear", "in_features", 2 * w2, "out_features", out));
    if (r.nextBoolean()) {
      layers.add(layer("Dropout", "p", 0.1));
    }
    if (r.nextBoolean()) {
      layers.add(layer("L2Normalize"));
    }
    return sequential(layers, null);
  }

  /**
   * A random CNN on flat vectors: Unflatten (or Reshape) to [c, h, w], Conv2d (int or pair args, padding, stride,
   * dilation), activation, MaxPool2d, Conv2d, BatchNorm1d over [C, H*W], Flatten, Linear, L2Normalize.
   */
  static ObjectNode cnn(Random r) {
    ArrayNode layers = F.arrayNode();
    int c = 1 + r.nextInt(3);
    int h = 8 + r.nextInt(12);
    int w = 8 + r.nextInt(12);
    if (r.nextBoolean()) {
      layers.add(layer("Unflatten", "dim", 1, "unflattened_size", new int[] {c, h, w}));
    } else {
      layers.add(layer("Reshape", "shape", new int[] {c, h, w}));
    }
    int c1 = 2 + r.nextInt(6);
    layers.add(layer("Conv2d", "in_channels", c, "out_channels", c1, "kernel_size",
        new int[] {1 + r.nextInt(3), 1 + r.nextInt(3)}, "stride", 1 + r.nextInt(2), "padding",
        new int[] {r.nextInt(2), r.nextInt(2)}, "dilation", 1 + r.nextInt(2), "bias", r.nextInt(4) != 0));
    layers.add(activation(r));
    layers.add(layer("MaxPool2d", "kernel_size", 2, "stride", 1 + r.nextInt(2), "padding", r.nextInt(2)));
    int c2 = 2 + r.nextInt(6);
    layers.add(layer("Conv2d", "in_channels", c1, "out_channels", c2, "kernel_size", 3, "padding", 1));
    layers.add(layer("Flatten", "start_dim", 2, "end_dim", 3));
    layers.add(layer("BatchNorm1d", "num_features", c2));
    layers.add(activation(r));
    layers.add(layer("Flatten"));
    ObjectNode spec = sequential(layers, null);
    // The Linear needs the flattened size: let shape inference compute it.
    long flat = Registry.build(spec, Sequential.class).outputShape()[0];
    layers.add(layer("Linear", "in_features", (int) flat, "out_features", 4 + r.nextInt(24)));
    layers.add(layer("L2Normalize"));
    return spec;
  }

  /**
   * Builds the encoder, perturbs every floating tensor (so LayerNorm/BatchNorm affine params are not 1/0), runs a few
   * training-mode batches (moves BatchNorm's running statistics), and leaves it in eval mode.
   */
  static Sequential trained(ObjectNode spec, long seed) {
    torch.manual_seed(seed);
    Sequential s = Registry.build(spec, Sequential.class);
    try (Scope step = Scope.open()) {
      try (NoGradGuard g = new NoGradGuard()) {
        for (Map.Entry<String, Tensor> e : s.namedParameters().entrySet()) {
          Tensor t = e.getValue();
          t.add_(torch.randn(Tensors.shape(t)).mul(Tensors.s(0.2)));
        }
      }
      s.train(true);
      for (int i = 0; i < 3; i++) {
        s.forward(torch.randn(16, s.inputSize()).mul(Tensors.s(1.5)).add(Tensors.s(0.3)));
      }
      s.eval();
    }
    return s;
  }
}
