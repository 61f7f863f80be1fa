package org.pml4j.data;

import java.io.Serializable;
import java.util.Locale;

/**
 * A replayable, index-addressed source of labeled rows: row {@code i} depends only on the source's settings and
 * {@code i}, so any range can be read again, in any order (what a stream restored from a checkpoint needs, and what
 * makes a batch run reproducible). Both {@code pml4j train} (which loads rows into a {@link LabeledDataset}) and the
 * Flink job (which adapts a source to a FLIP-27 generator source) read data through this interface; sources are
 * looked up by name in {@link DataSources}.
 *
 * <p>Implementations are serializable (Flink ships them to the task managers): keep bulky state (decoded files)
 * transient and load it lazily.
 */
public interface DataSource extends Serializable {
  /** {@link #size()} of a source without an end (a generator). */
  long UNBOUNDED = Long.MAX_VALUE;

  /**
   * One row: its class label and its features (the flattened sample, {@code prod(sampleShape())} floats).
   *
   * @param label the class label
   * @param features the features; a fresh array the caller owns
   */
  record Row(long label, float[] features) {}

  /** Where the rows come from, with the split: {@code "fashion-mnist/train"}, {@code "synthetic/test"}. */
  String name();

  /** Rows in one pass over the source, or {@link #UNBOUNDED}. */
  long size();

  /** The per-sample shape the rows flatten ({@code [1, 28, 28]} for Fashion-MNIST, {@code [dim]}). */
  long[] sampleShape();

  /**
   * Row {@code i}.
   *
   * @throws IndexOutOfBoundsException when {@code i} is outside {@code [0, size())}
   */
  Row row(long i);

  /**
   * The records this source left out as unusable (a csv or jsonl line that cannot be read or fails the validation
   * rule {@link Rejection#check}); {@link Rejection.Summary#NONE} for sources without bad records.
   */
  default Rejection.Summary rejections() {
    return Rejection.Summary.NONE;
  }

  /** Values per row: the product of {@link #sampleShape()}. */
  default int numFeatures() {
    long w = 1;
    for (long d : sampleShape()) {
      w *= d;
    }
    return Math.toIntExact(w);
  }

  /**
   * The first {@code min(limit, size())} rows in memory. When that cuts a finite source short, the dataset's name gets
   * the suffix {@code [:rows]}.
   *
   * @throws IllegalArgumentException when {@code limit < 0}, or the source is unbounded and no limit is given
   *     ({@code limit == Integer.MAX_VALUE})
   */
  default LabeledDataset load(int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0, got " + limit);
    }
    long n = size();
    if (n == UNBOUNDED && limit == Integer.MAX_VALUE) {
      throw new IllegalArgumentException(name() + " has no end: give a row limit");
    }
    int rows = (int) Math.min(n, limit);
    float[][] x = new float[rows][];
    long[] y = new long[rows];
    for (int i = 0; i < rows; i++) {
      Row r = row(i);
      x[i] = r.features();
      y[i] = r.label();
    }
    return new LabeledDataset(n != UNBOUNDED && rows < n ? name() + "[:" + rows + "]" : name(), x, y, sampleShape());
  }

  /** The two splits a named source offers: {@code train} and {@code test}. */
  enum Split {
    TRAIN, TEST;

    /**
     * {@code train} or {@code test} (also accepts {@code t10k}, Fashion-MNIST's name of the test files).
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Split parse(String s) {
      return switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "train" -> TRAIN;
        case "test", "t10k" -> TEST;
        default -> throw new IllegalArgumentException("unknown split '" + s + "'; use train or test");
      };
    }

    /** {@code train} or {@code test}. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }
}
