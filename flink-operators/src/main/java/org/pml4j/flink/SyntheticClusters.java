package org.pml4j.flink;

import java.util.SplittableRandom;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * A seeded stream of labeled Gaussian clusters: {@code classes} centres drawn once from the seed (each coordinate
 * {@code N(0, centerScale²)}), and record {@code i} = centre of a label drawn from {@code (seed, id)} plus
 * {@code N(0, noise²)} per coordinate. Every record depends only on the seed and its id, so any range of the stream
 * can be regenerated exactly: the generator is replayable from a checkpoint, in any order, at any parallelism.
 *
 * <p>Ids are {@code idOffset + i}; give the held-out stream a different offset than the training stream (same seed:
 * same centres, fresh samples).
 *
 * <p>{@code corruptEvery > 0} turns every {@code corruptEvery}-th record (ids with {@code id % corruptEvery ==
 * corruptEvery - 1}) into a bad one, cycling through a NaN feature, a missing label and a vector one value short, to
 * exercise validation.
 */
public final class SyntheticClusters implements GeneratorFunction<Long, LabeledVector> {
  private static final long serialVersionUID = 1L;

  private final int classes;
  private final int dimension;
  private final double noise;
  private final double centerScale;
  private final long seed;
  private final long idOffset;
  private final long corruptEvery;
  private transient float[][] centers;

  /**
   * @param classes number of clusters (labels 0..classes-1)
   * @param dimension features per record
   * @param noise standard deviation around the centre
   * @param centerScale standard deviation of the centres' coordinates
   * @param seed the seed of centres and samples
   * @param idOffset id of the first record
   * @param corruptEvery 0, or the period of injected bad records
   */
  public SyntheticClusters(int classes, int dimension, double noise, double centerScale, long seed, long idOffset,
      long corruptEvery) {
    if (classes < 1 || dimension < 1 || noise < 0 || centerScale < 0 || corruptEvery < 0) {
      throw new IllegalArgumentException("bad synthetic stream settings: classes=" + classes + " dimension="
          + dimension + " noise=" + noise + " centerScale=" + centerScale + " corruptEvery=" + corruptEvery);
    }
    this.classes = classes;
    this.dimension = dimension;
    this.noise = noise;
    this.centerScale = centerScale;
    this.seed = seed;
    this.idOffset = idOffset;
    this.corruptEvery = corruptEvery;
  }

  public SyntheticClusters(int classes, int dimension, double noise, long seed, long idOffset) {
    this(classes, dimension, noise, 1.0, seed, idOffset, 0);
  }

  /** The same stream with other ids (the held-out companion of a training stream). */
  public SyntheticClusters withIdOffset(long offset) {
    return new SyntheticClusters(classes, dimension, noise, centerScale, seed, offset, corruptEvery);
  }

  /** The same stream with other bad-record injection. */
  public SyntheticClusters withCorruptEvery(long every) {
    return new SyntheticClusters(classes, dimension, noise, centerScale, seed, idOffset, every);
  }

  public int dimension() {
    return dimension;
  }

  public int classes() {
    return classes;
  }

  private float[][] centers() {
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

  /** The record at index {@code i} of the stream. */
  @Override
  public LabeledVector map(Long i) {
    long id = idOffset + i;
    SplittableRandom r = new SplittableRandom(mix(seed, id));
    int label = r.nextInt(classes);
    float[] c = centers()[label];
    float[] x = new float[dimension];
    for (int j = 0; j < dimension; j++) {
      x[j] = (float) (c[j] + gaussian(r) * noise);
    }
    LabeledVector v = new LabeledVector(id, (long) label, x);
    if (corruptEvery > 0 && Math.floorMod(id, corruptEvery) == corruptEvery - 1) {
      switch ((int) Math.floorMod(id / corruptEvery, 3L)) {
        case 0 -> v.features[r.nextInt(dimension)] = Float.NaN;
        case 1 -> v.label = null;
        default -> v.features = java.util.Arrays.copyOf(x, dimension - 1);
      }
    }
    return v;
  }

  private static double gaussian(SplittableRandom r) {
    // Box–Muller: deterministic and independent of java.util.Random's cached second value.
    double u1 = r.nextDouble();
    double u2 = r.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }

  private static long mix(long seed, long id) {
    long z = seed * 0x9E3779B97F4A7C15L + id;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
