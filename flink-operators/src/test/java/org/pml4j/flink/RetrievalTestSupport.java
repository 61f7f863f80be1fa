package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.nn.Sequential;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Torch;

/** Real ONNX encoders for the retrieval tests, and an independent brute-force k-NN to check answers against. */
final class RetrievalTestSupport {
  private RetrievalTestSupport() {}

  /** The ONNX bytes of a freshly initialized encoder dim → 16 → ReLU → emb → L2Normalize (weights from the seed). */
  static byte[] onnxEncoder(int dim, int emb, long seed, long version) {
    Torch.ensureLoaded();
    try {
      JsonNode spec = new ObjectMapper().readTree("""
          {"class": "Sequential", "params": {"layers": [
              {"class": "Linear", "params": {"in_features": %d, "out_features": 16}},
              {"class": "ReLU"},
              {"class": "Linear", "params": {"in_features": 16, "out_features": %d}},
              {"class": "L2Normalize"}]}}
          """.formatted(dim, emb));
      torch.manual_seed(seed);
      Sequential enc = Registry.build(spec, Sequential.class);
      return OnnxExporter.export(enc, version, 0);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An index encoder running the ONNX model in ONNX Runtime. */
  static VersionedIndex.Encoder ort(byte[] onnx) {
    OnnxEncoder e = OnnxEncoder.load(onnx, new OnnxEncoder.Options(1, 4096));
    return new VersionedIndex.Encoder() {
      @Override
      public float[][] embed(float[][] rows) {
        return e.embed(rows);
      }

      @Override
      public void close() {
        e.close();
      }
    };
  }

  static float[] gaussian(Random r, int dim) {
    float[] v = new float[dim];
    for (int j = 0; j < dim; j++) {
      v[j] = (float) r.nextGaussian();
    }
    return v;
  }

  /**
   * Exact top-k by cosine similarity (computed in double), ties by id, over the given raw items embedded with the
   * given ONNX model: an implementation independent of the index's.
   */
  static long[][] bruteForce(byte[] onnx, Map<Long, float[]> items, float[] query, int k, double[] scoresOut) {
    try (OnnxEncoder enc = OnnxEncoder.load(onnx)) {
      List<Long> ids = new ArrayList<>(items.keySet());
      float[][] raw = new float[ids.size()][];
      for (int i = 0; i < raw.length; i++) {
        raw[i] = items.get(ids.get(i));
      }
      float[][] e = raw.length == 0 ? new float[0][] : enc.embed(raw);
      float[] q = enc.embed(query);
      double[] s = new double[raw.length];
      for (int i = 0; i < raw.length; i++) {
        s[i] = cosine(e[i], q);
      }
      Integer[] order = new Integer[raw.length];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -s[i]).thenComparingLong(ids::get));
      int kk = Math.min(k, order.length);
      long[] top = new long[kk];
      for (int i = 0; i < kk; i++) {
        top[i] = ids.get(order[i]);
        if (scoresOut != null) {
          scoresOut[i] = s[order[i]];
        }
      }
      return new long[][] {top};
    }
  }

  static double cosine(float[] a, float[] b) {
    double ab = 0;
    double aa = 0;
    double bb = 0;
    for (int j = 0; j < a.length; j++) {
      ab += (double) a[j] * b[j];
      aa += (double) a[j] * a[j];
      bb += (double) b[j] * b[j];
    }
    return aa == 0 || bb == 0 ? 0 : ab / Math.sqrt(aa * bb);
  }
}
