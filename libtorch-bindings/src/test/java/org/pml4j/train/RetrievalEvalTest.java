package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The retrieval metrics of {@code pml4j train/eval} (and of the streaming evaluator, which uses other k-NN chunks):
 * the chunk size does not change the scores, and precision_at_1 is the leave-one-out 1-NN accuracy.
 */
class RetrievalEvalTest {
  private static final int N = 300;

  /** 4 overlapping classes in 8 dimensions: centers 1.5 apart per axis, unit noise (a P@1 well inside (0, 1)). */
  private static float[][] embeddings(long[] labels) {
    Random r = new Random(11);
    float[][] e = new float[N][8];
    for (int i = 0; i < N; i++) {
      labels[i] = i % 4;
      for (int d = 0; d < 8; d++) {
        e[i][d] = (float) ((d % 4 == labels[i] ? 1.5 : 0) + r.nextGaussian());
      }
    }
    return e;
  }

  @Test
  void theKnnChunkSizeDoesNotChangeTheScores() {
    long[] labels = new long[N];
    float[][] e = embeddings(labels);
    Map<String, Double> whole = RetrievalEval.metrics(e, labels);
    for (int chunk : new int[] {1, 7, 128, N, 4096}) {
      assertEquals(whole, RetrievalEval.metrics(e, labels, chunk), "chunks of " + chunk + " rows");
    }
    // precision_at_1: the share of rows whose nearest other row (squared L2) has their label
    int hits = 0;
    for (int i = 0; i < N; i++) {
      int best = -1;
      double bestD = Double.MAX_VALUE;
      for (int j = 0; j < N; j++) {
        if (j != i) {
          double dist = 0;
          for (int d = 0; d < 8; d++) {
            double diff = e[i][d] - e[j][d];
            dist += diff * diff;
          }
          if (dist < bestD) {
            bestD = dist;
            best = j;
          }
        }
      }
      hits += labels[best] == labels[i] ? 1 : 0;
    }
    double p1 = whole.get("precision_at_1");
    assertEquals((double) hits / N, p1, 1e-6, "leave-one-out 1-NN accuracy");
    assertTrue(p1 > 0.3 && p1 < 0.95, "classes overlap: " + p1);
    double mapR = whole.get("mean_average_precision_at_r");
    assertTrue(mapR > 0 && mapR < p1, "MAP@R is below P@1 here: " + mapR);
  }

  @Test
  void aChunkOfNoRowsIsRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RetrievalEval.metrics(new float[][] {{0}, {1}}, new long[] {0, 1}, 0));
    assertTrue(e.getMessage().contains("knnChunkRows"), e.getMessage());
  }
}
