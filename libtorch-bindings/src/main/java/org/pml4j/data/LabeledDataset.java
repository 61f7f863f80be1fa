package org.pml4j.data;

import java.util.Arrays;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Labeled rows in memory: {@code features[i]} (the flattened sample, {@code prod(sampleShape)} floats) with class
 * {@code labels[i]}. The arrays are shared, not copied: treat them as read-only.
 *
 * @param name where the data came from ({@code "fashion-mnist/train"}, {@code "synthetic/test"})
 * @param features one row per sample, all of the same length
 * @param labels one class label per row
 * @param sampleShape the per-sample shape the rows flatten ({@code [1, 28, 28]} for Fashion-MNIST, {@code [dim]})
 */
public record LabeledDataset(String name, float[][] features, long[] labels, long[] sampleShape) {
  /**
   * @throws IllegalArgumentException when the row and label counts differ or a row has the wrong length
   */
  public LabeledDataset {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(features, "features");
    Objects.requireNonNull(labels, "labels");
    Objects.requireNonNull(sampleShape, "sampleShape");
    if (features.length != labels.length) {
      throw new IllegalArgumentException(name + ": " + features.length + " rows but " + labels.length + " labels");
    }
    long width = 1;
    for (long d : sampleShape) {
      if (d <= 0) {
        throw new IllegalArgumentException(name + ": bad sample shape " + Arrays.toString(sampleShape));
      }
      width *= d;
    }
    for (int i = 0; i < features.length; i++) {
      if (features[i] == null || features[i].length != width) {
        throw new IllegalArgumentException(name + ": row " + i + " has "
            + (features[i] == null ? "no" : features[i].length) + " values, expected " + width);
      }
    }
    sampleShape = sampleShape.clone();
  }

  /** Rows. */
  public int size() {
    return labels.length;
  }

  /** Values per row. */
  public int numFeatures() {
    long w = 1;
    for (long d : sampleShape) {
      w *= d;
    }
    return Math.toIntExact(w);
  }

  /** The distinct labels, ascending. */
  public long[] classes() {
    TreeSet<Long> s = new TreeSet<>();
    for (long l : labels) {
      s.add(l);
    }
    return s.stream().mapToLong(Long::longValue).toArray();
  }

  /** The first {@code n} rows (all when {@code n >= size()}). */
  public LabeledDataset head(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0, got " + n);
    }
    if (n >= size()) {
      return this;
    }
    return new LabeledDataset(name + "[:" + n + "]", Arrays.copyOf(features, n), Arrays.copyOf(labels, n),
        sampleShape);
  }

  /** The rows at {@code indices}, in that order (rows shared, not copied). */
  public LabeledDataset select(int[] indices) {
    float[][] f = new float[indices.length][];
    long[] l = new long[indices.length];
    for (int i = 0; i < indices.length; i++) {
      f[i] = features[indices[i]];
      l[i] = labels[indices[i]];
    }
    return new LabeledDataset(name, f, l, sampleShape);
  }

  @Override
  public String toString() {
    return name + " (" + size() + " rows × " + numFeatures() + " features, " + classes().length + " classes)";
  }
}
