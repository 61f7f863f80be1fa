package org.pml4j.flink.retrieval;

import java.util.Map;

/** Exposes the retrieval tests' brute force to the Flink job test in the parent package. */
public final class RetrievalTestAccess {
  private RetrievalTestAccess() {}

  /** See {@link RetrievalTestSupport#bruteForce}. */
  public static long[] bruteForce(byte[] onnx, Map<Long, float[]> items, float[] query, int k, double[] scores) {
    return RetrievalTestSupport.bruteForce(onnx, items, query, k, scores)[0];
  }

  /** See {@link RetrievalTestSupport#cosine}. */
  public static double cosine(float[] a, float[] b) {
    return RetrievalTestSupport.cosine(a, b);
  }
}
