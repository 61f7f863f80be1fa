package org.pml4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.nn.Sequential;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.train.Trainers;

/**
 * Serving cost of an encoder: {@link OnnxEncoder} (ONNX Runtime) against the LibTorch no-grad forward of the same
 * weights, microseconds per call at each batch size, interleaved in rounds (the machine is shared; the median over
 * rounds is reported). Variants:
 *
 * <ul>
 *   <li>{@code torch}: LibTorch, eval mode under {@code NoGradGuard}: {@code float[][]} rows into a tensor, forward,
 *       the output back to a flat {@code float[]} (the same contract as {@code embed}, one scope per call).
 *   <li>{@code torch_forward}: the forward alone on a prepared input tensor (its output not read back).
 *   <li>{@code ort_plain}: ONNX Runtime used the common way, on its own session with the same settings: a heap
 *       buffer, a new input tensor per call, {@code session.run}, the output copied out of the result.
 *   <li>{@code embed}: {@link OnnxEncoder#embed(float[][])} ({@link OnnxEncoder#embed(float[])} at batch 1).
 *   <li>{@code embed_flat}: {@link OnnxEncoder#embedFlat(float[], float[])} into a reused array.
 * </ul>
 *
 * <p>LibTorch and ONNX Runtime get the same thread count ({@code Torch.setNumThreads}, ONNX Runtime intra-op threads).
 *
 * <pre>
 * java -cp ... org.pml4j.bench.OnnxServeBench [--encoders 784-256-64,784-512-128] [--batches 1,256] [--threads 1]
 *     [--rounds 7] [--seconds 0.4] [--json]
 * </pre>
 *
 * <p>Each encoder is the MLP {@code in-hidden-embedding} (Linear, ReLU, Linear, L2Normalize) with seeded random
 * weights. With {@code --json} the last line is {@code {"results": [{encoder, batch, threads, us_per_call: {variant:
 * us}, ratios: {torch_over_embed, torch_over_embed_flat, torch_forward_over_embed}}], "rounds", "java", "load"}}.
 */
public final class OnnxServeBench {
  static final List<String> VARIANTS = List.of("torch", "torch_forward", "ort_plain", "embed", "embed_flat");

  /** One measured setting: per variant the median microseconds per call over the rounds. */
  record Row(String encoder, int batch, int threads, Map<String, Double> usPerCall) {
    double ratio(String num, String den) {
      return usPerCall.get(num) / usPerCall.get(den);
    }
  }

  private OnnxServeBench() {}

  /** Runs the benchmark (see the class comment for the arguments). */
  public static void main(String[] args) throws Exception {
    run(args, new PrintWriter(System.out, true));
  }

  /** {@link #main} writing to {@code out}; returns the rows. */
  static List<Row> run(String[] args, PrintWriter out) throws OrtException {
    List<String> encoders = List.of("784-256-64", "784-512-128");
    List<Integer> batches = List.of(1, 256);
    List<Integer> threads = List.of(1);
    int rounds = 7;
    double seconds = 0.4;
    boolean json = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--encoders" -> encoders = List.of(args[++i].split(","));
        case "--batches" -> batches = ints(args[++i]);
        case "--threads" -> threads = ints(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--seconds" -> seconds = Double.parseDouble(args[++i]);
        case "--json" -> json = true;
        default -> throw new IllegalArgumentException("unknown argument " + args[i] + "; see OnnxServeBench's Javadoc");
      }
    }
    String loadBefore = Bench.loadAverage();
    out.printf(Locale.ROOT, "OnnxServeBench: %d rounds of >= %.2f s per variant; load average %s; %d cores%n",
        rounds, seconds, loadBefore, Runtime.getRuntime().availableProcessors());
    List<Row> rows = new ArrayList<>();
    for (String e : encoders) {
      for (int t : threads) {
        for (int b : batches) {
          Row r = measure(e, b, t, rounds, seconds);
          rows.add(r);
          StringBuilder s = new StringBuilder();
          for (String v : VARIANTS) {
            s.append(String.format(Locale.ROOT, "  %s %.1f", v, r.usPerCall().get(v)));
          }
          out.printf(Locale.ROOT, "MLP %s batch %d, %d thread%s: us/call%s%n    LibTorch/embed %.2fx, "
              + "LibTorch/embed_flat %.2fx, LibTorch forward alone/embed %.2fx, ort_plain/embed %.2fx%n", e, b, t,
              t == 1 ? "" : "s", s, r.ratio("torch", "embed"), r.ratio("torch", "embed_flat"),
              r.ratio("torch_forward", "embed"), r.ratio("ort_plain", "embed"));
        }
      }
    }
    String loadAfter = Bench.loadAverage();
    out.printf(Locale.ROOT, "load average at end: %s%n", loadAfter);
    if (json) {
      ObjectMapper m = new ObjectMapper();
      ObjectNode root = m.createObjectNode();
      ArrayNode res = root.putArray("results");
      for (Row r : rows) {
        ObjectNode n = res.addObject();
        n.put("encoder", "MLP " + r.encoder());
        n.put("batch", r.batch());
        n.put("threads", r.threads());
        ObjectNode us = n.putObject("us_per_call");
        r.usPerCall().forEach((k, v) -> us.put(k, Bench.sig(v, 4)));
        ObjectNode q = n.putObject("ratios");
        q.put("torch_over_embed", Bench.sig(r.ratio("torch", "embed"), 3));
        q.put("torch_over_embed_flat", Bench.sig(r.ratio("torch", "embed_flat"), 3));
        q.put("torch_forward_over_embed", Bench.sig(r.ratio("torch_forward", "embed"), 3));
      }
      root.put("rounds", rounds);
      root.put("java", System.getProperty("java.version"));
      root.put("load", loadBefore + " / " + loadAfter);
      out.println(root);
    }
    out.flush();
    return rows;
  }

  static Row measure(String encoder, int batch, int threads, int rounds, double seconds) throws OrtException {
    int[] dims = ints(encoder.replace('-', ',')).stream().mapToInt(Integer::intValue).toArray();
    if (dims.length != 3) {
      throw new IllegalArgumentException("encoder must be in-hidden-embedding, got " + encoder);
    }
    Torch.setNumThreads(threads);
    Sequential enc = Registry.build(Trainers.defaultEncoder(dims[0], dims[1], dims[2]), Sequential.class);
    enc.eval();
    byte[] model = OnnxExporter.export(enc, 1, 0);
    Random rng = new Random(42);
    float[][] x = new float[batch][dims[0]];
    float[] flat = new float[batch * dims[0]];
    for (int i = 0; i < batch; i++) {
      for (int j = 0; j < dims[0]; j++) {
        x[i][j] = (float) rng.nextDouble();
        flat[i * dims[0] + j] = x[i][j];
      }
    }
    float[] flatOut = new float[batch * dims[2]];
    Map<String, List<Double>> us = new LinkedHashMap<>();
    VARIANTS.forEach(v -> us.put(v, new ArrayList<>()));
    try (OnnxEncoder ort = OnnxEncoder.load(model, new OnnxEncoder.Options(threads, 4096));
        OrtSession plain = plainSession(model, threads);
        Scope outer = Scope.open()) {
      Tensor xt = Tensors.floats(x);
      String inName = plain.getInputNames().iterator().next();
      Map<String, Runnable> calls = new LinkedHashMap<>();
      calls.put("torch", () -> {
        try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
          Tensors.toFloats(enc.forward(Tensors.floats(x)));
        }
      });
      calls.put("torch_forward", () -> {
        try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
          enc.forward(xt);
        }
      });
      calls.put("ort_plain", () -> {
        FloatBuffer buf = FloatBuffer.allocate(batch * dims[0]);
        for (float[] row : x) {
          buf.put(row);
        }
        buf.flip();
        try (OnnxTensor in = OnnxTensor.createTensor(OnnxEncoder.environment(), buf, new long[] {batch, dims[0]});
            OrtSession.Result r = plain.run(Map.of(inName, in))) {
          FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
          for (int i = 0; i < batch; i++) {
            fb.get(new float[dims[2]]);
          }
        } catch (OrtException e) {
          throw new IllegalStateException(e);
        }
      });
      calls.put("embed", batch == 1 ? () -> ort.embed(x[0]) : () -> ort.embed(x));
      calls.put("embed_flat", () -> ort.embedFlat(flat, flatOut));

      // parity of what is timed: every variant computes the same embeddings
      float[] torchOut;
      try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
        torchOut = Tensors.toFloats(enc.forward(xt));
      }
      ort.embedFlat(flat, flatOut);
      double worst = 0;
      for (int i = 0; i < torchOut.length; i++) {
        worst = Math.max(worst, Math.abs(torchOut[i] - flatOut[i]));
      }
      if (worst > 1e-5) {
        throw new IllegalStateException("ONNX Runtime and LibTorch differ by " + worst);
      }

      for (Runnable c : calls.values()) { // warm-up
        for (int i = 0; i < 50; i++) {
          c.run();
        }
      }
      for (int round = 0; round < rounds; round++) {
        List<String> order = new ArrayList<>(calls.keySet());
        java.util.Collections.rotate(order, round); // a different variant goes first each round
        for (String v : order) {
          Runnable c = calls.get(v);
          long t0 = System.nanoTime();
          long n = 0;
          long elapsed;
          do {
            c.run();
            n++;
            elapsed = System.nanoTime() - t0;
          } while (elapsed < seconds * 1e9 || n < 20);
          us.get(v).add(elapsed / 1e3 / n);
        }
      }
    }
    Map<String, Double> med = new LinkedHashMap<>();
    us.forEach((k, v) -> med.put(k, Bench.median(v)));
    return new Row(encoder, batch, threads, med);
  }

  /** A session with {@link OnnxEncoder}'s settings, for the {@code ort_plain} variant. */
  private static OrtSession plainSession(byte[] model, int threads) throws OrtException {
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setIntraOpNumThreads(threads);
      so.setInterOpNumThreads(1);
      so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      so.addConfigEntry("session.intra_op.allow_spinning", "0");
      return OnnxEncoder.environment().createSession(model, so);
    }
  }

  private static List<Integer> ints(String csv) {
    List<Integer> l = new ArrayList<>();
    for (String s : csv.split(",")) {
      l.add(Integer.parseInt(s.trim()));
    }
    return l;
  }
}
