package org.pml4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Serializable;
import java.util.SplittableRandom;
import org.pml4j.spec.Params;

/**
 * Seeded labeled Gaussian clusters, the one synthetic data model of pml4j (batch and stream): {@code classes} centres
 * drawn once from the seed (each coordinate {@code N(0, centerScale²)}), and the row of id {@code i} = the centre of a
 * label drawn from {@code (seed, i)} plus {@code N(0, noise²)} per coordinate. Every row depends only on the seed and
 * its id, so any range can be regenerated exactly, in any order: replayable from a checkpoint, at any parallelism.
 * Labels are drawn uniformly, so class counts are near, not exactly, equal.
 *
 * <p>Splits: {@link #source(long)} reads the ids from a first id on; the {@code train} split starts at id 0, the
 * {@code test} split at {@link #TEST_ID_OFFSET} (same centres, fresh samples). Small {@code noise} (≈0.3) gives
 * well-separated classes, large (≈1.5) overlapping ones.
 */
public final class SyntheticClusters implements Serializable {
  private static final long serialVersionUID = 1L;
  /** The first id of the test split (far beyond any training stream). */
  public static final long TEST_ID_OFFSET = 1L << 40;

  /** Defaults of the {@code synthetic} source, stated once (also the stream's). */
  public static final int DEFAULT_CLASSES = 10;
  public static final int DEFAULT_DIMENSION = 32;
  public static final double DEFAULT_NOISE = 0.7;
  public static final double DEFAULT_CENTER_SCALE = 1.0;
  public static final long DEFAULT_SEED = 1;

  private final int classes;
  private final int dimension;
  private final double noise;
  private final double centerScale;
  private final long seed;
  private transient float[][] centers;

  /**
   * @param classes number of clusters (labels {@code 0..classes-1})
   * @param dimension features per row
   * @param noise standard deviation around the centre
   * @param centerScale standard deviation of the centres' coordinates
   * @param seed the seed of centres and samples
   * @throws IllegalArgumentException for {@code classes < 1}, {@code dimension < 1}, or a negative or non-finite noise
   *     or centre scale
   */
  public SyntheticClusters(int classes, int dimension, double noise, double centerScale, long seed) {
    if (classes < 1) {
      throw new IllegalArgumentException("classes must be >= 1, got " + classes);
    }
    if (dimension < 1) {
      throw new IllegalArgumentException("dimension must be >= 1, got " + dimension);
    }
    if (!(noise >= 0) || Double.isInfinite(noise)) {
      throw new IllegalArgumentException("noise must be finite and >= 0, got " + noise);
    }
    if (!(centerScale >= 0) || Double.isInfinite(centerScale)) {
      throw new IllegalArgumentException("centerScale must be finite and >= 0, got " + centerScale);
    }
    this.classes = classes;
    this.dimension = dimension;
    this.noise = noise;
    this.centerScale = centerScale;
    this.seed = seed;
  }

  public int classes() {
    return classes;
  }

  public int dimension() {
    return dimension;
  }

  public double noise() {
    return noise;
  }

  public double centerScale() {
    return centerScale;
  }

  public long seed() {
    return seed;
  }

  /** The class centres ({@code [classes][dimension]}, a copy). */
  public float[][] centers() {
    float[][] c = centerTable();
    float[][] out = new float[classes][];
    for (int i = 0; i < classes; i++) {
      out[i] = c[i].clone();
    }
    return out;
  }

  private float[][] centerTable() {
    if (centers == null) {
      SplittableRandom r = new SplittableRandom(seed);
      float[][] c = new float[classes][dimension];
      for (float[] row : c) {
        for (int j = 0; j < dimension; j++) {
          row[j] = (float) (gaussian(r) * centerScale);
        }
      }
      centers = c;
    }
    return centers;
  }

  /** The row of id {@code id}. */
  public DataSource.Row row(long id) {
    SplittableRandom r = new SplittableRandom(mix(seed, id));
    int label = r.nextInt(classes);
    float[] c = centerTable()[label];
    float[] x = new float[dimension];
    for (int j = 0; j < dimension; j++) {
      x[j] = (float) (c[j] + gaussian(r) * noise);
    }
    return new DataSource.Row(label, x);
  }

  /** An unbounded source whose row {@code i} is the row of id {@code firstId + i}. */
  public DataSource source(long firstId) {
    String split = firstId == 0 ? "train" : firstId == TEST_ID_OFFSET ? "test" : "from-" + firstId;
    return new Source(this, firstId, "synthetic/" + split);
  }

  /** The train ({@code firstId} 0) or test ({@link #TEST_ID_OFFSET}) split. */
  public DataSource source(DataSource.Split split) {
    return source(split == DataSource.Split.TRAIN ? 0 : TEST_ID_OFFSET);
  }

  /** A deterministic 64-bit hash of {@code (seed, id)} (SplitMix64's finaliser): the seed of one row's draws. */
  public static long mix(long seed, long id) {
    long z = seed * 0x9E3779B97F4A7C15L + id;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static double gaussian(SplittableRandom r) {
    // Box–Muller: deterministic and independent of java.util.Random's cached second value.
    double u1 = r.nextDouble();
    double u2 = r.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }

  private record Source(SyntheticClusters model, long firstId, String name) implements DataSource {
    @Override
    public long size() {
      return UNBOUNDED;
    }

    @Override
    public long[] sampleShape() {
      return new long[] {model.dimension};
    }

    @Override
    public Row row(long i) {
      if (i < 0) {
        throw new IndexOutOfBoundsException("row " + i + " of " + name);
      }
      return model.row(firstId + i);
    }
  }

  /**
   * The {@code synthetic} source of {@link DataSources}. Options: {@code classes}, {@code dimension}, {@code noise},
   * {@code center_scale}, {@code seed} (defaults: the {@code DEFAULT_*} constants).
   */
  public static final class Provider implements DataSourceProvider {
    @Override
    public String name() {
      return "synthetic";
    }

    @Override
    public DataSource open(DataSource.Split split, JsonNode options) {
      Params p = Params.of("synthetic", (ObjectNode) options);
      int classes = p.getInt("classes", DEFAULT_CLASSES);
      int dimension = p.getInt("dimension", DEFAULT_DIMENSION);
      double noise = p.getDouble("noise", DEFAULT_NOISE);
      double centerScale = p.getDouble("center_scale", DEFAULT_CENTER_SCALE);
      JsonNode s = p.raw("seed");
      if (s != null && !s.isNull() && !s.isIntegralNumber()) {
        throw new IllegalArgumentException("synthetic.seed: expected an integer, got " + s);
      }
      long seed = s == null || s.isNull() ? DEFAULT_SEED : s.asLong();
      p.done();
      return new SyntheticClusters(classes, dimension, noise, centerScale, seed).source(split);
    }
  }
}
