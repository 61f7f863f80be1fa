package org.pml4j.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.pml4j.nn.Layer;
import org.pml4j.nn.Linear;
import org.pml4j.nn.ReLU;
import org.pml4j.nn.Sequential;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Torch;

class OnnxParityTest {
  static final double TOL = 1e-5;
  static final int[] BATCHES = {1, 7, 256};

  static float[][] randomRows(Random r, int n, long d) {
    float[][] rows = new float[n][(int) d];
    for (float[] row : rows) {
      for (int j = 0; j < row.length; j++) {
        row[j] = (float) (1.5 * r.nextGaussian() + 0.3);
      }
    }
    return rows;
  }

  /** Types of the layers in a spec, nested Sequentials included. */
  static void collectTypes(Layer l, Set<String> out) {
    out.add(l.typeName());
    if (l instanceof Sequential s) {
      for (Layer c : s.layers()) {
        collectTypes(c, out);
      }
    }
  }

  @Test
  void randomEncodersMatchLibTorch() {
    Torch.setNumThreads(1);
    Set<String> covered = new TreeSet<>();
    List<String> report = new ArrayList<>();
    double worst = 0;
    for (int seed = 0; seed < 8; seed++) {
      Random r = new Random(1000 + seed);
      ObjectNode spec = seed % 2 == 0 ? RandomEncoders.mlp(r) : RandomEncoders.cnn(r);
      Sequential enc = RandomEncoders.trained(spec, seed);
      collectTypes(enc, covered);
      byte[] model = OnnxExporter.export(enc, seed, 100L * seed);
      try (OnnxEncoder ort = OnnxEncoder.load(model)) {
        assertEquals(enc.embeddingSize(), ort.embeddingSize());
        for (int b : BATCHES) {
          float[][] x = randomRows(r, b, enc.inputSize());
          float[][] expected = OnnxExporter.torchForward(enc, x);
          float[][] got = ort.embed(x);
          double diff = OnnxExporter.maxAbsDiff(expected, got);
          worst = Math.max(worst, diff);
          report.add("seed " + seed + " batch " + b + ": " + diff);
          assertTrue(diff <= TOL, "seed " + seed + " batch " + b + ": max |ORT - LibTorch| = " + diff + " for "
              + spec);
        }
      }
    }
    System.out.println("ONNX parity, worst max |ORT - LibTorch| = " + worst + "\n  " + String.join("\n  ", report));
    Set<String> missing = new TreeSet<>(OnnxExporter.SUPPORTED);
    missing.removeAll(covered);
    assertTrue(missing.isEmpty(), "random encoders must cover every layer type; missing " + missing);
  }

  /** Every layer type alone (between Linear layers where it needs vectors) exports, loads in ORT and matches. */
  @Test
  void everyLayerTypeExportsAndLoads() {
    Map<String, String> specs = new LinkedHashMap<>();
    String lin = "{\"class\": \"Linear\", \"params\": {\"in_features\": 6, \"out_features\": 6}}";
    for (String t : List.of("ReLU", "GELU", "Tanh", "Sigmoid", "Dropout", "L2Normalize")) {
      specs.put(t, "[" + lin + ", {\"class\": \"" + t + "\"}]");
    }
    specs.put("LeakyReLU", "[" + lin + ", {\"class\": \"LeakyReLU\", \"params\": {\"negative_slope\": 0.2}}]");
    specs.put("Linear", "[" + lin + "]");
    specs.put("LayerNorm", "[" + lin + ", {\"class\": \"LayerNorm\", \"params\": {\"normalized_shape\": 6}}]");
    specs.put("BatchNorm1d", "[" + lin + ", {\"class\": \"BatchNorm1d\", \"params\": {\"num_features\": 6}}]");
    specs.put("ResidualMLP", "[" + lin + ", {\"class\": \"ResidualMLP\", \"params\": {\"features\": 6}}]");
    specs.put("Sequential", "[{\"class\": \"Sequential\", \"params\": {\"layers\": [" + lin + "]}}]");
    String img = "{\"class\": \"Unflatten\", \"params\": {\"dim\": 1, \"unflattened_size\": [2, 6, 6]}}";
    String flat = "{\"class\": \"Flatten\"}";
    specs.put("Unflatten", "[" + img + ", " + flat + "]");
    specs.put("Flatten", specs.get("Unflatten"));
    specs.put("Reshape", "[{\"class\": \"Reshape\", \"params\": {\"shape\": [3, 4]}}, " + flat + "]");
    specs.put("Conv2d", "[" + img + ", {\"class\": \"Conv2d\", \"params\": {\"in_channels\": 2, \"out_channels\": 3,"
        + " \"kernel_size\": 3}}, " + flat + "]");
    specs.put("MaxPool2d", "[" + img + ", {\"class\": \"MaxPool2d\", \"params\": {\"kernel_size\": 2}}, " + flat
        + "]");
    Map<String, String> expectedOp = Map.ofEntries(Map.entry("ReLU", "Relu"), Map.entry("GELU", "Erf"),
        Map.entry("Tanh", "Tanh"), Map.entry("Sigmoid", "Sigmoid"), Map.entry("Dropout", "Identity"),
        Map.entry("L2Normalize", "ReduceL2"), Map.entry("LeakyReLU", "LeakyRelu"), Map.entry("Linear", "Gemm"),
        Map.entry("LayerNorm", "LayerNormalization"), Map.entry("BatchNorm1d", "BatchNormalization"),
        Map.entry("ResidualMLP", "Add"), Map.entry("Sequential", "Gemm"), Map.entry("Unflatten", "Reshape"),
        Map.entry("Flatten", "Reshape"), Map.entry("Reshape", "Reshape"), Map.entry("Conv2d", "Conv"),
        Map.entry("MaxPool2d", "MaxPool"));
    assertEquals(new TreeSet<>(OnnxExporter.SUPPORTED), new TreeSet<>(specs.keySet()));
    // Every layer class in org.pml4j.nn is exportable (a new layer without export support fails here).
    assertEquals(new TreeSet<>(Registry.knownClassesByPackage().get("nn")), new TreeSet<>(OnnxExporter.SUPPORTED));
    Random r = new Random(5);
    for (Map.Entry<String, String> e : specs.entrySet()) {
      Sequential enc = RandomEncoders.trained(
          (ObjectNode) readTree("{\"class\": \"Sequential\", \"params\": {\"layers\": " + e.getValue() + "}}"), 3);
      byte[] model = OnnxExporter.export(enc, 1, 2); // verify=true: loads in ORT, compares with LibTorch
      ModelProto proto = parse(model);
      Set<String> ops = new HashSet<>();
      for (NodeProto n : proto.getGraph().getNodeList()) {
        ops.add(n.getOpType());
      }
      assertTrue(ops.contains(expectedOp.get(e.getKey())), e.getKey() + " -> " + ops);
      try (OnnxEncoder ort = OnnxEncoder.load(model)) {
        for (int b : BATCHES) {
          float[][] x = randomRows(r, b, enc.inputSize());
          double diff = OnnxExporter.maxAbsDiff(OnnxExporter.torchForward(enc, x), ort.embed(x));
          assertTrue(diff <= TOL, e.getKey() + " batch " + b + ": " + diff);
        }
      }
    }
  }

  @Test
  void modelSettingsAndMetadataRoundTrip() throws Exception {
    Sequential enc = RandomEncoders.trained(RandomEncoders.mlp(new Random(1)), 1);
    byte[] model = OnnxExporter.export(enc, new OnnxExporter.ExportInfo(42, 12345, Map.of("run", "abc"), true));
    ModelProto proto = parse(model);
    assertEquals(8, proto.getIrVersion());
    assertEquals(17, proto.getOpsetImport(0).getVersion());
    assertEquals(42, proto.getModelVersion());
    assertEquals("pml4j", proto.getProducerName());
    // The project version (from the build's pml4j-version.properties; a jar's manifest says the same).
    assertEquals(System.getProperty("pml4j.project.version"), proto.getProducerVersion());
    assertEquals("batch", proto.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
    assertEquals("batch", proto.getGraph().getOutput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
    Map<String, String> props = new LinkedHashMap<>();
    for (StringStringEntryProto p : proto.getMetadataPropsList()) {
      props.put(p.getKey(), p.getValue());
    }
    try (OnnxEncoder ort = OnnxEncoder.load(model)) {
      assertEquals(props, ort.metadata());
      assertEquals(enc.embeddingSize(), ort.embeddingSize());
      assertEquals(Long.toString(enc.embeddingSize()), ort.metadata().get("embedding_size"));
      assertEquals(OnnxExporter.normalization(enc), ort.normalization());
      assertEquals(42, ort.modelVersion());
      assertEquals(12345, ort.trainingStep());
      assertEquals("abc", ort.metadata().get("run"));
      assertArrayEquals(enc.inputShape(), ort.inputShape());
      // The spec in the metadata rebuilds the same architecture.
      assertEquals(readTree(enc.toSpec().toString()), readTree(ort.spec()));
      Sequential rebuilt = Registry.build(ort.spec(), Sequential.class);
      assertEquals(enc.toSpec(), rebuilt.toSpec());
    }
    // normalization metadata
    Sequential l2 = Registry.build("""
        {"class": "Sequential", "params": {"layers": [{"class": "Linear", "params": {"in_features": 3,
          "out_features": 4}}, {"class": "L2Normalize"}, {"class": "Dropout"}]}}""", Sequential.class);
    try (OnnxEncoder ort = OnnxEncoder.load(OnnxExporter.export(l2, 1, 1))) {
      assertEquals("l2", ort.normalization());
    }
    Sequential none = Registry.build("""
        {"class": "Sequential", "params": {"layers": [{"class": "Linear", "params": {"in_features": 3,
          "out_features": 4}}]}}""", Sequential.class);
    try (OnnxEncoder ort = OnnxEncoder.load(OnnxExporter.export(none, 1, 1))) {
      assertEquals("none", ort.normalization());
    }
    assertThrows(IllegalArgumentException.class,
        () -> OnnxExporter.export(none, new OnnxExporter.ExportInfo(1, 1, Map.of("spec", "x"), false)));
  }

  /** A float64 encoder exports float32 initializers and still matches its float64 LibTorch forward. */
  @Test
  void doubleEncoderExportsAsFloat() {
    Sequential enc = RandomEncoders.trained(RandomEncoders.mlp(new Random(4)), 4);
    enc.to(org.bytedeco.pytorch.global.torch.ScalarType.Double);
    try (OnnxEncoder ort = OnnxEncoder.load(OnnxExporter.export(enc, 1, 1))) {
      float[][] x = randomRows(new Random(8), 256, enc.inputSize());
      double diff = OnnxExporter.maxAbsDiff(OnnxExporter.torchForward(enc, x), ort.embed(x));
      assertTrue(diff <= TOL, "float64 encoder vs ORT: " + diff);
    }
  }

  /** A layer the exporter does not know. */
  static final class Square extends Layer {
    @Override
    public ObjectNode params() {
      return new ObjectMapper().createObjectNode();
    }

    @Override
    public long[] outputShape(long[] in) {
      return in.clone();
    }

    @Override
    public Module module() {
      return null;
    }

    @Override
    public Tensor forward(Tensor x) {
      return x.mul(x);
    }
  }

  @Test
  void unsupportedLayerIsAClearError() {
    Sequential enc = new Sequential(List.of(new Linear(3, 4), new ReLU(), new Square()));
    UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
        () -> OnnxExporter.export(enc, 1, 1));
    assertTrue(e.getMessage().contains("does not support layer type Square"), e.getMessage());
    assertTrue(e.getMessage().contains("Conv2d"), "lists the supported types: " + e.getMessage());
    Sequential image = Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Unflatten", "params": {"dim": 1, "unflattened_size": [1, 4, 4]}}]}}""", Sequential.class);
    IllegalStateException notVector = assertThrows(IllegalStateException.class,
        () -> OnnxExporter.export(image, 1, 1));
    assertTrue(notVector.getMessage().contains("Flatten"), notVector.getMessage());
  }

  @Test
  void encoderIsThreadSafeAndValidatesInput() throws Exception {
    Sequential enc = RandomEncoders.trained(RandomEncoders.cnn(new Random(9)), 9);
    float[][] x = randomRows(new Random(3), 64, enc.inputSize());
    try (OnnxEncoder ort = OnnxEncoder.load(OnnxExporter.export(enc, 1, 1), new OnnxEncoder.Options(1, 10))) {
      float[][] reference = ort.embed(x); // 7 chunks of <= 10 rows
      assertTrue(OnnxExporter.maxAbsDiff(OnnxExporter.torchForward(enc, x), reference) <= TOL);
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<float[][]>> futures = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
          futures.add(pool.submit(() -> ort.embed(x)));
        }
        for (Future<float[][]> f : futures) {
          assertEquals(0.0, OnnxExporter.maxAbsDiff(reference, f.get()));
        }
      } finally {
        pool.shutdown();
      }
      assertArrayEquals(reference[5], ort.embed(x[5]), 1e-6f);
      assertEquals(0, ort.embed(new float[0][]).length);
      IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
          () -> ort.embed(new float[][] {new float[3]}));
      assertTrue(bad.getMessage().contains("takes " + enc.inputSize()), bad.getMessage());
      ort.close();
      assertThrows(IllegalStateException.class, () -> ort.embed(x));
    }
    assertThrows(IllegalArgumentException.class, () -> OnnxEncoder.load(new byte[] {1, 2, 3}));
  }

  static ModelProto parse(byte[] model) {
    try {
      return ModelProto.parseFrom(model);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  static com.fasterxml.jackson.databind.JsonNode readTree(String json) {
    try {
      return new ObjectMapper().readTree(json);
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
