package org.pml4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.spec.Registry;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

class NnTest {
  /** An MLP covering every vector layer type. */
  static final String MLP = """
      {"class": "Sequential", "params": {"layers": [
        {"class": "Linear", "params": {"in_features": 12, "out_features": 16}},
        {"class": "BatchNorm1d", "params": {"num_features": 16, "eps": 1e-5, "momentum": 0.2}},
        {"class": "ReLU"},
        {"class": "Dropout", "params": {"p": 0.3}},
        {"class": "LayerNorm", "params": {"normalized_shape": 16, "eps": 1e-6}},
        {"class": "GELU"},
        {"class": "ResidualMLP", "params": {"features": 16, "hidden_features": 24}},
        {"class": "LeakyReLU", "params": {"negative_slope": 0.05}},
        {"class": "Linear", "params": {"in_features": 16, "out_features": 10, "bias": false}},
        {"class": "Tanh"},
        {"class": "Sigmoid"},
        {"class": "L2Normalize"}]}}""";

  /** A small CNN on 784-vectors covering the image layer types. */
  static final String CNN = """
      {"class": "Sequential", "params": {"layers": [
        {"class": "Unflatten", "params": {"dim": 1, "unflattened_size": [1, 28, 28]}},
        {"class": "Conv2d", "params": {"in_channels": 1, "out_channels": 4, "kernel_size": 3, "stride": 1,
                                       "padding": 1}},
        {"class": "ReLU"},
        {"class": "MaxPool2d", "params": {"kernel_size": 2, "stride": 2}},
        {"class": "Conv2d", "params": {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 5],
                                       "stride": [2, 1], "padding": [0, 2]}},
        {"class": "Flatten"},
        {"class": "Linear", "params": {"in_features": 504, "out_features": 8}}]}}""";

  @Test
  void mlpShapesAndNames() {
    Sequential s = Registry.build(MLP, Sequential.class);
    assertArrayEquals(new long[] {12}, s.inputShape());
    assertEquals(10, s.embeddingSize());
    Map<String, Tensor> params = s.namedParameters();
    assertTrue(params.containsKey("0.weight"), params.keySet().toString());
    assertTrue(params.containsKey("6.fc1.weight"), params.keySet().toString());
    assertTrue(params.containsKey("6.norm.bias"), params.keySet().toString());
    assertFalse(params.containsKey("8.bias"), "Linear without bias");
    Map<String, Tensor> buffers = s.namedBuffers();
    assertEquals(List.of("1.running_mean", "1.running_var", "1.num_batches_tracked"), List.copyOf(buffers.keySet()));
    try (Scope step = Scope.open()) {
      Tensor y = s.forward(torch.randn(5, 12));
      assertArrayEquals(new long[] {5, 10}, Tensors.shape(y));
      double[][] rows = Tensors.toDoubles2d(y);
      for (double[] r : rows) {
        double n = 0;
        for (double v : r) {
          n += v * v;
        }
        assertEquals(1.0, Math.sqrt(n), 1e-5);
      }
    }
  }

  @Test
  void cnnShapes() {
    Sequential s = Registry.build(CNN, Sequential.class);
    assertArrayEquals(new long[] {784}, s.inputShape());
    // 28x28 -conv pad 1-> 28x28 -pool 2-> 14x14 -conv (3,5) stride (2,1) pad (0,2)-> 6x14, 6 channels: 504
    try (Scope step = Scope.open()) {
      Tensor y = s.forward(torch.randn(3, 784));
      assertArrayEquals(new long[] {3, 8}, Tensors.shape(y));
    }
    assertArrayEquals(new long[] {6, 6, 14}, new Sequential(s.layers().subList(0, 5), new long[] {784}).outputShape());
  }

  @Test
  void reshapeAndExplicitInputShape() {
    Sequential s = Registry.build("""
        {"class": "Sequential", "params": {"input_shape": [2, 6, 6], "layers": [
          {"class": "MaxPool2d", "params": {"kernel_size": 3, "stride": 2, "padding": 1}},
          {"class": "Reshape", "params": {"shape": [-1]}},
          {"class": "Reshape", "params": {"shape": [2, 9]}},
          {"class": "Flatten", "params": {"start_dim": 1, "end_dim": 2}}]}}""", Sequential.class);
    assertArrayEquals(new long[] {18}, s.outputShape());
    try (Scope step = Scope.open()) {
      assertArrayEquals(new long[] {4, 18}, Tensors.shape(s.forward(torch.randn(4, 2, 6, 6))));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.forward(torch.randn(4, 72)));
      assertTrue(e.getMessage().contains("expects input [B, 2, 6, 6]"), e.getMessage());
    }
  }

  @Test
  void everyLayerTypeRoundTripsItsSpec() {
    for (String json : List.of(MLP, CNN)) {
      Sequential s = Registry.build(json, Sequential.class);
      Sequential again = Registry.build(s.toSpec(), Sequential.class);
      assertEquals(s.toSpec(), again.toSpec());
    }
  }

  @Test
  void badSpecsGiveClearErrors() {
    SpecException unknown = assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Sequential", "params": {"layers": [{"class": "Linearr", "params": {}}]}}"""));
    assertTrue(unknown.getMessage().contains("unknown class 'Linearr'"), unknown.getMessage());
    assertTrue(unknown.getMessage().contains("Linear"), unknown.getMessage());

    SpecException mismatch = assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Linear", "params": {"in_features": 8, "out_features": 16}},
          {"class": "ReLU"},
          {"class": "Linear", "params": {"in_features": 15, "out_features": 4}}]}}"""));
    assertTrue(mismatch.getMessage().contains("layer 2 (Linear)"), mismatch.getMessage());
    assertTrue(mismatch.getMessage().contains("[..., 15]") && mismatch.getMessage().contains("[16]"),
        mismatch.getMessage());

    SpecException bn = assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Linear", "params": {"in_features": 8, "out_features": 16}},
          {"class": "BatchNorm1d", "params": {"num_features": 8}}]}}"""));
    assertTrue(bn.getMessage().contains("layer 1 (BatchNorm1d)"), bn.getMessage());

    SpecException conv = assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Conv2d", "params": {"in_channels": 1, "out_channels": 4, "kernel_size": 3}}]}}"""));
    assertTrue(conv.getMessage().contains("input_shape"), conv.getMessage());

    SpecException convIn = assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Unflatten", "params": {"dim": 1, "unflattened_size": [1, 28, 28]}},
          {"class": "Conv2d", "params": {"in_channels": 3, "out_channels": 4, "kernel_size": 3}}]}}"""));
    assertTrue(convIn.getMessage().contains("[3, H, W]"), convIn.getMessage());

    SpecException param = assertThrows(SpecException.class,
        () -> Registry.build("{\"class\": \"Linear\", \"params\": {\"in_features\": 3, \"out_feature\": 4}}"));
    assertTrue(param.getMessage().contains("out_feature"), param.getMessage());

    SpecException missing = assertThrows(SpecException.class,
        () -> Registry.build("{\"class\": \"Linear\", \"params\": {\"in_features\": 3}}"));
    assertTrue(missing.getMessage().contains("out_features"), missing.getMessage());

    SpecException reshape = assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Sequential", "params": {"input_shape": [10], "layers": [
          {"class": "Reshape", "params": {"shape": [3, -1]}}]}}"""));
    assertTrue(reshape.getMessage().contains("cannot split 10"), reshape.getMessage());

    assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Sequential", "params": {"layers": []}}"""));
    assertThrows(SpecException.class, () -> Registry.build("""
        {"class": "Dropout", "params": {"p": 1.5}}"""));
  }

  @Test
  void embeddingSizeNeedsAVector() {
    Sequential s = Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Unflatten", "params": {"dim": 1, "unflattened_size": [1, 4, 4]}},
          {"class": "Conv2d", "params": {"in_channels": 1, "out_channels": 2, "kernel_size": 3}}]}}""",
        Sequential.class);
    IllegalStateException e = assertThrows(IllegalStateException.class, s::embeddingSize);
    assertTrue(e.getMessage().contains("Flatten"), e.getMessage());
  }

  @Test
  void trainAndEvalModes() {
    Sequential s = Registry.build(MLP, Sequential.class);
    BatchNorm1d bn = (BatchNorm1d) s.layers().get(1);
    try (Scope step = Scope.open()) {
      Tensor x = torch.randn(8, 12);
      s.train(true);
      assertTrue(s.isTraining() && bn.isTraining() && s.layers().get(3).isTraining());
      s.forward(x);
      assertEquals(1, s.namedBuffers().get("1.num_batches_tracked").item_long());
      s.eval();
      assertFalse(bn.isTraining() || s.layers().get(3).isTraining() || s.module().is_training());
      try (NoGradGuard g = new NoGradGuard()) {
        Tensor a = s.forward(x);
        Tensor b = s.forward(x);
        assertTrue(a.equal(b), "eval is deterministic (dropout off, running stats)");
      }
      assertEquals(1, s.namedBuffers().get("1.num_batches_tracked").item_long(), "eval does not update stats");
    }
  }

  @Test
  void stateRoundTripIsBitExact() {
    for (String json : List.of(MLP, CNN)) {
      torch.manual_seed(1);
      Sequential a = Registry.build(json, Sequential.class);
      try (Scope step = Scope.open()) {
        a.train(true);
        for (int i = 0; i < 3; i++) {
          a.forward(torch.randn(16, a.inputSize())); // moves BatchNorm's running stats
        }
      }
      byte[] state = a.saveState();
      torch.manual_seed(2);
      Sequential b = Registry.build(a.toSpec(), Sequential.class);
      try (Scope step = Scope.open()) {
        String first = a.namedParameters().keySet().iterator().next();
        assertFalse(a.namedParameters().get(first).equal(b.namedParameters().get(first)), "different init");
      }
      b.loadState(state);
      try (Scope step = Scope.open()) {
        Map<String, Tensor> sa = a.stateDict();
        Map<String, Tensor> sb = b.stateDict();
        assertEquals(sa.keySet(), sb.keySet());
        for (String k : sa.keySet()) {
          assertTrue(sa.get(k).equal(sb.get(k)), k);
          assertTrue(Tensors.dtype(sa.get(k)) == Tensors.dtype(sb.get(k)), k);
        }
        a.eval();
        b.eval();
        Tensor x = torch.randn(7, a.inputSize());
        assertTrue(a.forward(x).equal(b.forward(x)));
      }
      assertArrayEquals(state, b.saveState(), "re-saved bytes identical");
    }
  }

  @Test
  void loadStateRejectsAnotherArchitecture() {
    Sequential a = Registry.build(MLP, Sequential.class);
    Sequential c = Registry.build(CNN, Sequential.class);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.loadState(a.saveState()));
    assertTrue(e.getMessage().contains("names differ"), e.getMessage());
    Linear l1 = new Linear(3, 4);
    Linear l2 = new Linear(3, 5);
    e = assertThrows(IllegalArgumentException.class, () -> l2.loadState(l1.saveState()));
    assertTrue(e.getMessage().contains("shape"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> l1.loadState(new byte[] {1, 2, 3}));
  }

  @Test
  void layersBuiltInsideAScopeSurviveIt() {
    Sequential s;
    try (Scope step = Scope.open()) {
      s = Registry.build(MLP, Sequential.class);
      s.forward(torch.randn(4, 12));
    }
    System.gc();
    try (Scope step = Scope.open()) {
      s.eval();
      assertArrayEquals(new long[] {2, 10}, Tensors.shape(s.forward(torch.randn(2, 12))));
      assertEquals(12, s.namedParameters().get("0.weight").size(1));
    }
  }

  @Test
  void castToDoubleKeepsIntegerBuffers() {
    Sequential s = Registry.build(MLP, Sequential.class);
    s.to(ScalarType.Double);
    try (Scope step = Scope.open()) {
      assertEquals(ScalarType.Double, Tensors.dtype(s.namedParameters().get("0.weight")));
      assertEquals(ScalarType.Double, Tensors.dtype(s.namedBuffers().get("1.running_var")));
      assertEquals(ScalarType.Long, Tensors.dtype(s.namedBuffers().get("1.num_batches_tracked")));
      s.eval();
      Tensor y = s.forward(torch.randn(3, 12).to(ScalarType.Double));
      assertEquals(ScalarType.Double, Tensors.dtype(y));
    }
  }

  @Test
  void moveToADevice() {
    Sequential s = Registry.build(CNN, Sequential.class);
    org.bytedeco.pytorch.Device d = org.pml4j.torch.Torch.device("auto");
    s.to(d);
    s.eval();
    try (Scope step = Scope.open()) {
      assertEquals(d.is_cuda(), s.namedParameters().get("1.weight").is_cuda());
      Tensor y = s.forward(torch.randn(2, 784).to(d, ScalarType.Float));
      assertEquals(d.is_cuda(), y.is_cuda());
      byte[] state = s.saveState(); // always via the CPU
      s.loadState(state);
      assertArrayEquals(state, s.saveState());
    }
  }

  @Test
  void gradientsReachEveryParameter() {
    Sequential s = Registry.build(MLP, Sequential.class);
    s.train(true);
    try (Scope step = Scope.open()) {
      Tensor y = s.forward(torch.randn(6, 12));
      y.pow(new org.bytedeco.pytorch.Scalar(3.0)).sum().backward();
      for (Map.Entry<String, Tensor> e : s.namedParameters().entrySet()) {
        assertTrue(e.getValue().grad().defined(), e.getKey());
      }
      assertNotEquals(0.0, s.namedParameters().get("0.weight").grad().abs().sum().item_double());
    }
  }
}
