package org.pml4j.flink;

/**
 * Exact top-k search by cosine similarity over a dense matrix of unit-length rows, and the ranking order shared by
 * the shards and the {@link AnswerMerger}: higher score first, then lower id on equal scores (deterministic ties).
 *
 * <p>A score is the dot product of a stored row and the normalized query, summed in a fixed order (eight partial
 * sums over the columns, then combined; so a score is reproducible run to run, and the scan is not bound by the
 * latency of one floating-point add chain).
 */
final class ExactTopK {
  private ExactTopK() {}

  /** The ranking order: higher score first, then lower id. */
  static boolean better(float s, long id, float otherScore, long otherId) {
    int c = Float.compare(s, otherScore);
    return c > 0 || (c == 0 && id < otherId);
  }

  /** Writes {@code v / |v|} into {@code out} from {@code off} (zeros for a zero vector). */
  static void normalizeInto(float[] v, float[] out, int off) {
    double n = 0;
    for (float x : v) {
      n += (double) x * x;
    }
    float inv = n > 0 ? (float) (1 / Math.sqrt(n)) : 0f;
    for (int j = 0; j < v.length; j++) {
      out[off + j] = v[j] * inv;
    }
  }

  /** The dot product of {@code rows[off .. off+d)} and {@code q}, in the fixed order described above. */
  static float dot(float[] rows, int off, float[] q, int d) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    float s4 = 0;
    float s5 = 0;
    float s6 = 0;
    float s7 = 0;
    int j = 0;
    for (; j + 8 <= d; j += 8) {
      s0 += rows[off + j] * q[j];
      s1 += rows[off + j + 1] * q[j + 1];
      s2 += rows[off + j + 2] * q[j + 2];
      s3 += rows[off + j + 3] * q[j + 3];
      s4 += rows[off + j + 4] * q[j + 4];
      s5 += rows[off + j + 5] * q[j + 5];
      s6 += rows[off + j + 6] * q[j + 6];
      s7 += rows[off + j + 7] * q[j + 7];
    }
    for (; j < d; j++) {
      s0 += rows[off + j] * q[j];
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /**
   * The exact top-{@code k} of the first {@code n} rows of {@code rows} ({@code d} columns, unit length) for a query
   * (normalized here), best first.
   */
  static VersionHits search(long version, float[] rows, long[] ids, int n, int d, float[] query,
      int k) {
    int kk = Math.min(k, n);
    long[] topIds = new long[kk];
    float[] topScores = new float[kk];
    if (kk == 0) {
      return new VersionHits(version, topIds, topScores);
    }
    float[] q = new float[d];
    normalizeInto(query, q, 0);
    // A sorted array of the best kk so far (insertion: k is small), worst at the end.
    int filled = 0;
    for (int i = 0; i < n; i++) {
      float s = dot(rows, i * d, q, d);
      long id = ids[i];
      if (filled == kk && !better(s, id, topScores[kk - 1], topIds[kk - 1])) {
        continue;
      }
      int p = filled == kk ? kk - 1 : filled++;
      while (p > 0 && better(s, id, topScores[p - 1], topIds[p - 1])) {
        topScores[p] = topScores[p - 1];
        topIds[p] = topIds[p - 1];
        p--;
      }
      topScores[p] = s;
      topIds[p] = id;
    }
    return new VersionHits(version, topIds, topScores);
  }
}
