package org.pml4j.onnx;

import static org.pml4j.onnx.GraphBuilder.attrFloat;
import static org.pml4j.onnx.GraphBuilder.attrInt;
import static org.pml4j.onnx.GraphBuilder.attrInts;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.nn.BatchNorm1d;
import org.pml4j.nn.Conv2d;
import org.pml4j.nn.Dropout;
import org.pml4j.nn.Flatten;
import org.pml4j.nn.GELU;
import org.pml4j.nn.L2Normalize;
import org.pml4j.nn.Layer;
import org.pml4j.nn.LayerNorm;
import org.pml4j.nn.LeakyReLU;
import org.pml4j.nn.Linear;
import org.pml4j.nn.MaxPool2d;
import org.pml4j.nn.ReLU;
import org.pml4j.nn.Reshape;
import org.pml4j.nn.ResidualMLP;
import org.pml4j.nn.Sequential;
import org.pml4j.nn.Sigmoid;
import org.pml4j.nn.Tanh;
import org.pml4j.nn.Unflatten;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * Exports an encoder ({@link Sequential} spec + its trained tensors) to an ONNX model: IR version 8, opset 17, input
 * {@value #INPUT} {@code [batch, *input_shape]} float32 with a symbolic batch dimension, output {@value #OUTPUT}
 * {@code [batch, embedding_size]} float32. Parameters and buffers become float32 initializers named as in the state
 * dict ({@code 0.weight}, {@code 3.running_mean}).
 *
 * <p>The graph computes the encoder's <b>evaluation-mode</b> forward, whatever mode the module is in: BatchNorm1d
 * uses its running statistics, Dropout is the identity.
 *
 * <table>
 *   <caption>Layer → ONNX operators</caption>
 *   <tr><td>Linear</td><td>Gemm(transB=1) on [B, F]; MatMul + Add on higher ranks</td></tr>
 *   <tr><td>ReLU, Tanh, Sigmoid, LeakyReLU</td><td>Relu, Tanh, Sigmoid, LeakyRelu(alpha)</td></tr>
 *   <tr><td>GELU</td><td>0.5·x·(1 + Erf(x/√2)) (approximate="tanh": 0.5·x·(1 + Tanh(√(2/π)(x + 0.044715x³))))</td></tr>
 *   <tr><td>LayerNorm</td><td>LayerNormalization(axis=-len(normalized_shape), epsilon)</td></tr>
 *   <tr><td>BatchNorm1d</td><td>BatchNormalization(epsilon) with running mean/var (inference mode)</td></tr>
 *   <tr><td>Dropout</td><td>Identity</td></tr>
 *   <tr><td>L2Normalize</td><td>x / Max(ReduceL2(x, axes=[dim], keepdims=1), eps)</td></tr>
 *   <tr><td>ResidualMLP</td><td>Add(x, Gemm(Relu(Gemm(LayerNormalization(x)))))</td></tr>
 *   <tr><td>Conv2d, MaxPool2d</td><td>Conv, MaxPool (explicit pads)</td></tr>
 *   <tr><td>Flatten, Unflatten, Reshape</td><td>Reshape to the statically inferred shape, batch copied (0)</td></tr>
 *   <tr><td>Sequential (nested)</td><td>its layers inline</td></tr>
 * </table>
 *
 * Any other {@link Layer} subclass is rejected with an {@link UnsupportedOperationException} naming it.
 *
 * <p>{@code metadata_props}: {@value #META_EMBEDDING_SIZE}, {@value #META_NORMALIZATION} ({@code "l2"} when the
 * encoder ends with L2Normalize, else {@code "none"}), {@value #META_MODEL_VERSION}, {@value #META_TRAINING_STEP},
 * {@value #META_SPEC} (the encoder's spec JSON, which {@code Registry.build} accepts), {@value #META_INPUT_SHAPE}, plus
 * any extra entries of {@link ExportInfo}.
 *
 * <p>With {@link ExportInfo#verify()} (the default) every export is loaded in ONNX Runtime and its output compared
 * with the LibTorch evaluation forward on a fixed input of 3 samples; a difference above {@value #VERIFY_TOLERANCE}
 * is an {@link IllegalStateException}. Call it from the thread that owns the encoder (LibTorch grad mode is
 * thread-local); the encoder's train/eval mode is restored afterwards.
 */
public final class OnnxExporter {
  public static final long IR_VERSION = 8;
  public static final long OPSET = 17;
  public static final String INPUT = "input";
  public static final String OUTPUT = "embedding";
  public static final String META_EMBEDDING_SIZE = "embedding_size";
  public static final String META_NORMALIZATION = "normalization";
  public static final String META_MODEL_VERSION = "model_version";
  public static final String META_TRAINING_STEP = "training_step";
  public static final String META_SPEC = "spec";
  public static final String META_INPUT_SHAPE = "input_shape";
  public static final double VERIFY_TOLERANCE = 1e-4;

  /** Layer types this exporter supports. */
  public static final List<String> SUPPORTED = List.of("Sequential", "Linear", "ReLU", "GELU", "LeakyReLU", "Tanh",
      "Sigmoid", "LayerNorm", "BatchNorm1d", "Dropout", "L2Normalize", "ResidualMLP", "Conv2d", "MaxPool2d",
      "Flatten", "Unflatten", "Reshape");

  /**
   * What goes into the model besides the encoder.
   *
   * @param modelVersion the published model version (also ModelProto.model_version)
   * @param trainingStep the training step the weights come from
   * @param extraMetadata further metadata_props entries (may not replace the standard keys)
   * @param verify load the export in ONNX Runtime and compare with LibTorch
   */
  public record ExportInfo(long modelVersion, long trainingStep, Map<String, String> extraMetadata, boolean verify) {
    public ExportInfo {
      extraMetadata = extraMetadata == null ? Map.of() : Map.copyOf(extraMetadata);
    }

    public ExportInfo(long modelVersion, long trainingStep) {
      this(modelVersion, trainingStep, Map.of(), true);
    }
  }

  private OnnxExporter() {}

  /** Exports with {@code verify=true}; returns the serialized ModelProto. */
  public static byte[] export(Sequential encoder, long modelVersion, long trainingStep) {
    return export(encoder, new ExportInfo(modelVersion, trainingStep));
  }

  /** Exports and returns the serialized ModelProto (verified in ONNX Runtime when {@code info.verify()}). */
  public static byte[] export(Sequential encoder, ExportInfo info) {
    byte[] bytes = toModel(encoder, info).toByteArray();
    if (info.verify()) {
      verify(encoder, bytes);
    }
    return bytes;
  }

  /** Builds the ModelProto (no verification). */
  public static ModelProto toModel(Sequential encoder, ExportInfo info) {
    long embeddingSize = encoder.embeddingSize();
    GraphBuilder g = new GraphBuilder();
    g.graph.setName("pml4j_encoder");
    String x = g.fresh(INPUT);
    long[] in = encoder.inputShape();
    String y;
    try (Scope s = Scope.open()) {
      y = new Emitter(g).sequential(encoder, x, in, "");
    }
    String out = g.fresh(OUTPUT);
    g.graph.addNode(ai.onnx.proto.OnnxMl.NodeProto.newBuilder().setOpType("Identity").setName("output")
        .addInput(y).addOutput(out));
    g.graph.addInput(valueInfo(x, in));
    g.graph.addOutput(valueInfo(out, new long[] {embeddingSize}));

    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(META_EMBEDDING_SIZE, Long.toString(embeddingSize));
    meta.put(META_NORMALIZATION, normalization(encoder));
    meta.put(META_MODEL_VERSION, Long.toString(info.modelVersion()));
    meta.put(META_TRAINING_STEP, Long.toString(info.trainingStep()));
    meta.put(META_SPEC, encoder.toSpec().toString());
    meta.put(META_INPUT_SHAPE, Arrays.toString(in));
    for (Map.Entry<String, String> e : info.extraMetadata().entrySet()) {
      if (meta.containsKey(e.getKey())) {
        throw new IllegalArgumentException("extra metadata may not replace the standard key '" + e.getKey() + "'");
      }
      meta.put(e.getKey(), e.getValue());
    }
    ModelProto.Builder m = ModelProto.newBuilder().setIrVersion(IR_VERSION)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
        .setProducerName("pml4j").setProducerVersion(producerVersion()).setModelVersion(info.modelVersion())
        .setDocString("pml4j encoder, evaluation-mode forward").setGraph(g.graph);
    for (Map.Entry<String, String> e : meta.entrySet()) {
      m.addMetadataProps(StringStringEntryProto.newBuilder().setKey(e.getKey()).setValue(e.getValue()));
    }
    return m.build();
  }

  /** {@code "l2"} when the last layer that is not Dropout is L2Normalize (nested Sequentials followed), else "none". */
  public static String normalization(Layer encoder) {
    Layer last = encoder;
    while (last instanceof Sequential s) {
      List<Layer> layers = s.layers();
      int i = layers.size() - 1;
      while (i > 0 && layers.get(i) instanceof Dropout) {
        i--;
      }
      last = layers.get(i);
    }
    return last instanceof L2Normalize ? "l2" : "none";
  }

  private static ValueInfoProto valueInfo(String name, long[] perSample) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder()
        .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"));
    for (long d : perSample) {
      shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
        TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT.getNumber()).setShape(shape))).build();
  }

  /**
   * The ONNX {@code producer_version}: pml4j's version from the jar manifest's {@code Implementation-Version}, else
   * from the {@code pml4j-version.properties} that the build writes beside this class, else {@code "dev"}.
   */
  static String producerVersion() {
    String v = OnnxExporter.class.getPackage().getImplementationVersion();
    if (v != null && !v.isBlank()) {
      return v;
    }
    try (java.io.InputStream in = OnnxExporter.class.getResourceAsStream("pml4j-version.properties")) {
      if (in != null) {
        java.util.Properties p = new java.util.Properties();
        p.load(in);
        String f = p.getProperty("version");
        if (f != null && !f.isBlank() && !f.startsWith("${")) {
          return f.trim();
        }
      }
    } catch (java.io.IOException e) {
      // fall through
    }
    return "dev";
  }

  /**
   * Loads {@code model} in ONNX Runtime and compares it with the encoder's LibTorch evaluation forward on 3 fixed
   * pseudo-random samples.
   *
   * @throws IllegalStateException when ONNX Runtime rejects the model or the outputs differ by more than
   *     {@value #VERIFY_TOLERANCE}
   */
  public static void verify(Sequential encoder, byte[] model) {
    int n = 3;
    int d = Math.toIntExact(encoder.inputSize());
    float[][] rows = new float[n][d];
    Random r = new Random(17);
    for (float[] row : rows) {
      for (int j = 0; j < d; j++) {
        row[j] = (float) r.nextGaussian();
      }
    }
    float[][] expected = torchForward(encoder, rows);
    float[][] got;
    try (OnnxEncoder ort = OnnxEncoder.load(model)) {
      got = ort.embed(rows);
    } catch (RuntimeException e) {
      throw new IllegalStateException("ONNX Runtime rejected the exported model: " + e.getMessage(), e);
    }
    double max = maxAbsDiff(expected, got);
    if (!(max <= VERIFY_TOLERANCE)) {
      throw new IllegalStateException("exported model differs from the LibTorch forward: max |diff| = " + max);
    }
  }

  /** The encoder's evaluation-mode forward on flat float rows (restores the train/eval mode). */
  static float[][] torchForward(Sequential encoder, float[][] rows) {
    boolean wasTraining = encoder.isTraining();
    try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
      encoder.eval();
      Tensor like = null;
      for (Tensor p : encoder.stateDict().values()) {
        if (Tensors.isFloating(Tensors.dtype(p))) {
          like = p;
          break;
        }
      }
      long[] shape = new long[encoder.inputShape().length + 1];
      shape[0] = rows.length;
      System.arraycopy(encoder.inputShape(), 0, shape, 1, shape.length - 1);
      Tensor x = Tensors.floats(rows).reshape(shape);
      if (like != null) {
        x = x.to(like.device(), Tensors.dtype(like)); // the encoder's dtype and device
      }
      float[] flat = Tensors.toFloats(encoder.forward(x));
      int e = rows.length == 0 ? 0 : flat.length / rows.length;
      float[][] out = new float[rows.length][e];
      for (int i = 0; i < rows.length; i++) {
        System.arraycopy(flat, i * e, out[i], 0, e);
      }
      return out;
    } finally {
      encoder.train(wasTraining);
    }
  }

  static double maxAbsDiff(float[][] a, float[][] b) {
    if (a.length != b.length) {
      return Double.POSITIVE_INFINITY;
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      if (a[i].length != b[i].length) {
        return Double.POSITIVE_INFINITY;
      }
      for (int j = 0; j < a[i].length; j++) {
        double diff = Math.abs((double) a[i][j] - b[i][j]);
        if (!(diff <= max)) {
          max = Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff;
        }
      }
    }
    return max;
  }

  /** Emits the nodes of each layer type; works on per-sample shapes. */
  private static final class Emitter {
    private final GraphBuilder g;

    Emitter(GraphBuilder g) {
      this.g = g;
    }

    String sequential(Sequential s, String x, long[] in, String prefix) {
      String h = x;
      long[] shape = in;
      List<Layer> layers = s.layers();
      for (int i = 0; i < layers.size(); i++) {
        Layer l = layers.get(i);
        h = layer(l, h, shape, prefix + i + ".");
        shape = l.outputShape(shape);
      }
      return h;
    }

    String layer(Layer l, String x, long[] in, String p) {
      if (l instanceof Sequential s) {
        return sequential(s, x, in, p);
      } else if (l instanceof Linear lin) {
        return linear(lin, x, in, p);
      } else if (l instanceof ReLU) {
        return g.node("Relu", p + "relu", new String[] {x});
      } else if (l instanceof Tanh) {
        return g.node("Tanh", p + "tanh", new String[] {x});
      } else if (l instanceof Sigmoid) {
        return g.node("Sigmoid", p + "sigmoid", new String[] {x});
      } else if (l instanceof LeakyReLU lr) {
        return g.node("LeakyRelu", p + "leaky_relu", new String[] {x}, attrFloat("alpha", lr.negativeSlope()));
      } else if (l instanceof GELU ge) {
        return gelu(ge, x, p);
      } else if (l instanceof LayerNorm ln) {
        return layerNorm(ln, x, p);
      } else if (l instanceof BatchNorm1d bn) {
        return batchNorm(bn, x, p);
      } else if (l instanceof Dropout) {
        return g.node("Identity", p + "dropout", new String[] {x});
      } else if (l instanceof L2Normalize n) {
        String norm = g.node("ReduceL2", p + "norm", new String[] {x}, attrInts("axes", n.resolvedDim(in.length)),
            attrInt("keepdims", 1));
        String clamped = g.node("Max", p + "norm_clamped", new String[] {norm, g.scalar(p + "eps", n.eps())});
        return g.node("Div", p + "l2normalize", new String[] {x, clamped});
      } else if (l instanceof ResidualMLP r) {
        String h = layerNorm(r.norm(), x, p + "norm.");
        h = linear(r.fc1(), h, in, p + "fc1.");
        h = g.node("Relu", p + "relu", new String[] {h});
        h = linear(r.fc2(), h, r.fc1().outputShape(in), p + "fc2.");
        return g.node("Add", p + "residual", new String[] {x, h});
      } else if (l instanceof Conv2d c) {
        return conv(c, x, p);
      } else if (l instanceof MaxPool2d m) {
        long[] k = m.kernelSize();
        long[] pad = m.padding();
        return g.node("MaxPool", p + "maxpool", new String[] {x}, attrInts("kernel_shape", k),
            attrInts("strides", m.stride()), attrInts("pads", pad[0], pad[1], pad[0], pad[1]));
      } else if (l instanceof Flatten || l instanceof Unflatten || l instanceof Reshape) {
        long[] outShape = l.outputShape(in);
        long[] target = new long[outShape.length + 1]; // 0 = copy the batch dimension
        System.arraycopy(outShape, 0, target, 1, outShape.length);
        return g.node("Reshape", p + l.typeName().toLowerCase(java.util.Locale.ROOT),
            new String[] {x, g.longs(p + "shape", target)});
      }
      throw new UnsupportedOperationException("ONNX export does not support layer type " + l.typeName() + " ("
          + l.getClass().getName() + "); supported layer types are " + SUPPORTED);
    }

    private String init(String name, Tensor t) {
      return g.floats(name, Tensors.toFloats(t), Tensors.shape(t));
    }

    private String ones(String name, long n, float v) {
      float[] a = new float[Math.toIntExact(n)];
      Arrays.fill(a, v);
      return g.floats(name, a, n);
    }

    private String linear(Linear lin, String x, long[] in, String p) {
      if (in.length == 1) {
        String[] inputs = lin.hasBias()
            ? new String[] {x, init(p + "weight", lin.weight()), init(p + "bias", lin.bias())}
            : new String[] {x, init(p + "weight", lin.weight())};
        return g.node("Gemm", p + "linear", inputs, attrInt("transB", 1));
      }
      String wt = init(p + "weight_t", lin.weight().t().contiguous());
      String h = g.node("MatMul", p + "matmul", new String[] {x, wt});
      return lin.hasBias() ? g.node("Add", p + "linear", new String[] {h, init(p + "bias", lin.bias())}) : h;
    }

    private String layerNorm(LayerNorm ln, String x, String p) {
      long[] ns = ln.normalizedShape();
      long n = 1;
      for (long d : ns) {
        n *= d;
      }
      String scale = ln.elementwiseAffine() ? init(p + "weight", ln.weight()) : reshapeConst(p + "weight", ns, 1f, n);
      String bias = ln.elementwiseAffine() ? init(p + "bias", ln.bias()) : reshapeConst(p + "bias", ns, 0f, n);
      return g.node("LayerNormalization", p + "layernorm", new String[] {x, scale, bias},
          attrInt("axis", -ns.length), attrFloat("epsilon", ln.eps()));
    }

    private String reshapeConst(String name, long[] shape, float v, long n) {
      float[] a = new float[Math.toIntExact(n)];
      Arrays.fill(a, v);
      return g.floats(name, a, shape);
    }

    private String batchNorm(BatchNorm1d bn, String x, String p) {
      long c = bn.numFeatures();
      String scale = bn.affine() ? init(p + "weight", bn.weight()) : ones(p + "weight", c, 1f);
      String bias = bn.affine() ? init(p + "bias", bn.bias()) : ones(p + "bias", c, 0f);
      return g.node("BatchNormalization", p + "batchnorm", new String[] {x, scale, bias,
          init(p + "running_mean", bn.runningMean()), init(p + "running_var", bn.runningVar())},
          attrFloat("epsilon", bn.eps()), attrFloat("momentum", 1 - bn.momentum()));
    }

    private String gelu(GELU ge, String x, String p) {
      String inner;
      if ("tanh".equals(ge.approximate())) {
        String x3 = g.node("Mul", p + "x3", new String[] {x, g.node("Mul", p + "x2", new String[] {x, x})});
        String sum = g.node("Add", p + "poly", new String[] {x,
            g.node("Mul", p + "cubic", new String[] {x3, g.scalar(p + "kappa", 0.044715)})});
        String arg = g.node("Mul", p + "tanh_arg", new String[] {sum, g.scalar(p + "beta", Math.sqrt(2 / Math.PI))});
        inner = g.node("Tanh", p + "tanh", new String[] {arg});
      } else {
        String scaled = g.node("Mul", p + "erf_arg", new String[] {x, g.scalar(p + "inv_sqrt2", 1 / Math.sqrt(2))});
        inner = g.node("Erf", p + "erf", new String[] {scaled});
      }
      String onePlus = g.node("Add", p + "one_plus", new String[] {inner, g.scalar(p + "one", 1.0)});
      String half = g.node("Mul", p + "half_x", new String[] {x, g.scalar(p + "half", 0.5)});
      return g.node("Mul", p + "gelu", new String[] {half, onePlus});
    }

    private String conv(Conv2d c, String x, String p) {
      long[] pad = c.padding();
      String[] inputs = c.hasBias()
          ? new String[] {x, init(p + "weight", c.weight()), init(p + "bias", c.bias())}
          : new String[] {x, init(p + "weight", c.weight())};
      return g.node("Conv", p + "conv", inputs, attrInts("kernel_shape", c.kernelSize()),
          attrInts("strides", c.stride()), attrInts("pads", pad[0], pad[1], pad[0], pad[1]),
          attrInts("dilations", c.dilation()), attrInt("group", 1));
    }
  }
}
