package org.pml4j.train;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.accuracy.AccuracyCalculator;
import org.pml4j.accuracy.CustomKNN;
import org.pml4j.data.LabeledDataset;
import org.pml4j.distances.LpDistance;
import org.pml4j.nn.Sequential;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * Retrieval accuracy of an encoder on a dataset split, as {@code pml4j train}, {@code eval} and {@code bench} report
 * it: every row is a query against all the others (no self match), PML's
 * {@code AccuracyCalculator(include=("precision_at_1", "mean_average_precision_at_r"), k="max_bin_count")}.
 */
public final class RetrievalEval {
  /** The metrics reported. */
  public static final List<String> METRICS = List.of("precision_at_1", "mean_average_precision_at_r");
  /** Query rows per k-NN chunk of {@link #metrics(float[][], long[])}: AccuracyCalculator's default. */
  public static final int KNN_CHUNK_ROWS = 1024;
  /** Rows per forward pass of {@link #embed}. */
  private static final int CHUNK = 1024;

  private RetrievalEval() {}

  /**
   * Embeddings from the LibTorch encoder in evaluation mode, without grad, in chunks of 1024 rows (its mode is restored
   * afterwards).
   *
   * @throws IllegalArgumentException when the rows do not have the encoder's input size
   */
  public static float[][] embed(Sequential encoder, LabeledDataset data) {
    checkWidth(encoder.inputSize(), data);
    long[] inShape = encoder.inputShape();
    boolean wasTraining = encoder.isTraining();
    encoder.eval();
    float[][] out = new float[data.size()][];
    try (NoGradGuard g = new NoGradGuard()) {
      for (int from = 0; from < data.size(); from += CHUNK) {
        int n = Math.min(CHUNK, data.size() - from);
        try (Scope s = Scope.open()) {
          long[] shape = new long[inShape.length + 1];
          shape[0] = n;
          System.arraycopy(inShape, 0, shape, 1, inShape.length);
          Tensor x = Tensors.floats(Arrays.copyOfRange(data.features(), from, from + n)).reshape(shape);
          org.bytedeco.pytorch.Device dev = encoder.deviceOrNull(); // a CUDA-trained encoder: its input there too
          if (dev != null) {
            x = x.to(dev, x.scalar_type().intern());
          }
          Tensor e = encoder.forward(x).contiguous();
          int width = (int) e.size(1);
          float[] flat = Tensors.toFloats(e);
          for (int i = 0; i < n; i++) {
            out[from + i] = Arrays.copyOfRange(flat, i * width, (i + 1) * width);
          }
        }
      }
    } finally {
      encoder.train(wasTraining);
    }
    return out;
  }

  /** Throws when a model taking {@code inputSize} values per row cannot read {@code data}. */
  public static void checkWidth(long inputSize, LabeledDataset data) {
    if (inputSize != data.numFeatures()) {
      throw new IllegalArgumentException("the model takes " + inputSize + " values per row but " + data.name()
          + " has " + data.numFeatures());
    }
  }

  /**
   * precision_at_1 and mean_average_precision_at_r of the embeddings, query = reference, self excluded (k-NN in chunks
   * of {@value #KNN_CHUNK_ROWS} query rows, AccuracyCalculator's default).
   */
  public static Map<String, Double> metrics(float[][] embeddings, long[] labels) {
    return metrics(embeddings, labels, KNN_CHUNK_ROWS);
  }

  /**
   * {@link #metrics(float[][], long[])} with the exact k-NN ({@link CustomKNN}, squared L2 as faiss's
   * {@code IndexFlatL2}) in chunks of {@code knnChunkRows} query rows. The chunk size bounds the size of the distance
   * blocks, not the scores (the streaming evaluator uses smaller chunks, which the C allocator reuses).
   *
   * @throws IllegalArgumentException when {@code knnChunkRows < 1}
   */
  public static Map<String, Double> metrics(float[][] embeddings, long[] labels, int knnChunkRows) {
    if (knnChunkRows < 1) {
      throw new IllegalArgumentException("knnChunkRows must be >= 1, got " + knnChunkRows);
    }
    AccuracyCalculator calc = new AccuracyCalculator(METRICS, List.of(), false, false,
        AccuracyCalculator.MAX_BIN_COUNT, new CustomKNN(new LpDistance(false, 2, 2), knnChunkRows), null);
    Map<String, Double> out = new LinkedHashMap<>();
    try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
      Map<String, Object> m = calc.getAccuracy(Tensors.floats(embeddings), Tensors.longs(labels));
      for (String k : METRICS) {
        out.put(k, ((Number) m.get(k)).doubleValue());
      }
    }
    return out;
  }

  /** {@link #metrics} of the encoder's embeddings of {@code data}. */
  public static Map<String, Double> evaluate(Sequential encoder, LabeledDataset data) {
    return metrics(embed(encoder, data), data.labels());
  }
}
