package org.pml4j.data;

import java.util.Random;

/**
 * A seeded generator of labeled Gaussian clusters: {@code classes} centres drawn once from {@code N(0, I_dim)}, and
 * samples {@code centre + spread · N(0, I_dim)}. The centres depend only on the seed; {@link #train} and
 * {@link #test} draw independent samples around the same centres, so a model trained on one is evaluated on the other.
 * Rows are shuffled (seeded); every class gets exactly {@code perClass} rows. Small {@code spread} (≈0.3) gives
 * well-separated classes, large (≈1.5) overlapping ones.
 */
public final class SyntheticClusters {
  private final int classes;
  private final int dim;
  private final double spread;
  private final long seed;
  private final float[][] centers;

  /**
   * @throws IllegalArgumentException for fewer than 2 classes, {@code dim < 1} or a negative or non-finite spread
   */
  public SyntheticClusters(int classes, int dim, double spread, long seed) {
    if (classes < 2) {
      throw new IllegalArgumentException("classes must be >= 2, got " + classes);
    }
    if (dim < 1) {
      throw new IllegalArgumentException("dim must be >= 1, got " + dim);
    }
    if (!(spread >= 0) || Double.isInfinite(spread)) {
      throw new IllegalArgumentException("spread must be finite and >= 0, got " + spread);
    }
    this.classes = classes;
    this.dim = dim;
    this.spread = spread;
    this.seed = seed;
    Random r = new Random(seed);
    this.centers = new float[classes][dim];
    for (float[] c : centers) {
      for (int j = 0; j < dim; j++) {
        c[j] = (float) r.nextGaussian();
      }
    }
  }

  /** {@code perClass} rows per class for training (stream 1 of the seed). */
  public LabeledDataset train(int perClass) {
    return sample(perClass, 1, "synthetic/train");
  }

  /** {@code perClass} rows per class for testing (stream 2 of the seed, independent of {@link #train}). */
  public LabeledDataset test(int perClass) {
    return sample(perClass, 2, "synthetic/test");
  }

  /**
   * {@code perClass} rows per class from stream {@code stream} (different streams are independent draws).
   *
   * @throws IllegalArgumentException when {@code perClass < 1}
   */
  public LabeledDataset sample(int perClass, long stream, String name) {
    if (perClass < 1) {
      throw new IllegalArgumentException("perClass must be >= 1, got " + perClass);
    }
    Random r = new Random(seed * 0x9E3779B97F4A7C15L + stream * 0xBF58476D1CE4E5B9L + 1);
    int n = Math.multiplyExact(perClass, classes);
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    float[][] x = new float[n][dim];
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      int c = order[i] % classes;
      y[i] = c;
      for (int j = 0; j < dim; j++) {
        x[i][j] = (float) (centers[c][j] + spread * r.nextGaussian());
      }
    }
    return new LabeledDataset(name, x, y, new long[] {dim});
  }

  /** The class centres ({@code [classes][dim]}, a copy). */
  public float[][] centers() {
    float[][] out = new float[classes][];
    for (int i = 0; i < classes; i++) {
      out[i] = centers[i].clone();
    }
    return out;
  }

  public int classes() {
    return classes;
  }

  public int dim() {
    return dim;
  }

  public double spread() {
    return spread;
  }

  public long seed() {
    return seed;
  }
}
