package org.pml4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.pml4j.data.LabeledDataset;
import org.pml4j.nn.Sequential;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.train.RetrievalEval;

/**
 * Retrieval accuracy for {@code train} and {@code eval}: the LibTorch side is {@link RetrievalEval} (shared with
 * {@code bench}); this adds the ONNX Runtime encoder and the checkpoint sniffing.
 */
final class Evaluation {
  static final List<String> METRICS = RetrievalEval.METRICS;

  private Evaluation() {}

  /** Embeddings from the LibTorch encoder in evaluation mode (its mode is restored afterwards). */
  static float[][] embed(Sequential encoder, LabeledDataset data) {
    return RetrievalEval.embed(encoder, data);
  }

  /** Embeddings from an ONNX model run by ONNX Runtime. */
  static float[][] embed(OnnxEncoder encoder, LabeledDataset data) {
    RetrievalEval.checkWidth(encoder.inputSize(), data);
    return encoder.embed(data.features());
  }

  /** precision_at_1 and mean_average_precision_at_r of the embeddings, query = reference, self excluded. */
  static Map<String, Double> metrics(float[][] embeddings, long[] labels) {
    return RetrievalEval.metrics(embeddings, labels);
  }

  /** Whether a file starts like a pml4j trainer checkpoint ({@code PML4JCK1}). */
  static boolean isCheckpoint(Path file) throws IOException {
    byte[] head = new byte[8];
    try (InputStream in = Files.newInputStream(file)) {
      int n = in.readNBytes(head, 0, 8);
      return n == 8 && new String(head, java.nio.charset.StandardCharsets.US_ASCII).equals("PML4JCK1");
    }
  }
}
