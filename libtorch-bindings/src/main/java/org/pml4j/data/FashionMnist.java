package org.pml4j.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Fashion-MNIST (Zalando, 28×28 grey images of 10 clothing classes; 60,000 train and 10,000 test) read from its IDX
 * files: {@code train-images-idx3-ubyte.gz}, {@code train-labels-idx1-ubyte.gz}, {@code t10k-images-idx3-ubyte.gz},
 * {@code t10k-labels-idx1-ubyte.gz} (the uncompressed names work too). Pixels are scaled to {@code [0, 1]}
 * ({@code value / 255}), rows are the 784 pixels row-major, the sample shape is {@code [1, 28, 28]}, labels 0..9.
 *
 * <p>The files come from the Debian package {@value #DEBIAN_PACKAGE}, installed in {@value #DEFAULT_DIR}; another
 * directory can be given, or set with the environment variable {@code PML4J_FASHION_MNIST}.
 */
public final class FashionMnist {
  /** Where the Debian package puts the files. */
  public static final String DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
  /** The Debian package holding the files. */
  public static final String DEBIAN_PACKAGE = "dataset-fashion-mnist";
  /** Class names by label. */
  public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
  public static final int ROWS = 28;
  public static final int COLS = 28;

  /** The two splits: {@code train} (60,000 rows) and {@code test} (the {@code t10k} files, 10,000 rows). */
  public enum Split {
    TRAIN("train"), TEST("t10k");

    private final String prefix;

    Split(String prefix) {
      this.prefix = prefix;
    }

    /** {@code train} or {@code test} (also accepts {@code t10k}). */
    public static Split parse(String s) {
      return switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "train" -> TRAIN;
        case "test", "t10k" -> TEST;
        default -> throw new IllegalArgumentException("unknown split '" + s + "'; use train or test");
      };
    }

    public String fileStem() {
      return prefix;
    }
  }

  private FashionMnist() {}

  /** The directory used when none is given: {@code $PML4J_FASHION_MNIST}, else {@value #DEFAULT_DIR}. */
  public static Path defaultDir() {
    String env = System.getenv("PML4J_FASHION_MNIST");
    return Path.of(env != null && !env.isBlank() ? env : DEFAULT_DIR);
  }

  /** A whole split from {@link #defaultDir()}. */
  public static LabeledDataset load(Split split) {
    return load(defaultDir(), split, Integer.MAX_VALUE);
  }

  /**
   * The first {@code limit} rows of a split (the IDX files are read whole; only the conversion is limited).
   *
   * @throws UncheckedIOException naming the missing file and the Debian package {@value #DEBIAN_PACKAGE} when a file
   *     is absent, or when a file cannot be read
   * @throws IllegalArgumentException when a file is corrupt (bad magic, truncated, counts that disagree, a label
   *     outside 0..9, images not 28×28)
   */
  public static LabeledDataset load(Path dir, Split split, int limit) {
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0, got " + limit);
    }
    Path imagesFile = find(dir, split.fileStem() + "-images-idx3-ubyte");
    Path labelsFile = find(dir, split.fileStem() + "-labels-idx1-ubyte");
    Idx.UByteArray images;
    Idx.UByteArray labels;
    try {
      images = Idx.readUBytes(imagesFile, 3);
      labels = Idx.readUBytes(labelsFile, 1);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Fashion-MNIST from " + dir + ": " + e.getMessage(), e);
    }
    int n = images.dims()[0];
    if (images.dims()[1] != ROWS || images.dims()[2] != COLS) {
      throw Idx.corrupt(imagesFile, "images are " + images.dims()[1] + "×" + images.dims()[2] + ", expected 28×28");
    }
    if (labels.dims()[0] != n) {
      throw Idx.corrupt(labelsFile, labels.dims()[0] + " labels for " + n + " images in " + imagesFile.getFileName());
    }
    int rows = Math.min(n, limit);
    int width = ROWS * COLS;
    float[][] x = new float[rows][width];
    long[] y = new long[rows];
    for (int i = 0; i < rows; i++) {
      int label = labels.get(i);
      if (label > 9) {
        throw Idx.corrupt(labelsFile, "label " + label + " at row " + i + " is outside 0..9");
      }
      y[i] = label;
      float[] row = x[i];
      int base = i * width;
      for (int j = 0; j < width; j++) {
        row[j] = images.get(base + j) / 255f;
      }
    }
    String name = "fashion-mnist/" + split.name().toLowerCase(Locale.ROOT);
    return new LabeledDataset(rows < n ? name + "[:" + rows + "]" : name, x, y, new long[] {1, ROWS, COLS});
  }

  private static Path find(Path dir, String stem) {
    Path gz = dir.resolve(stem + ".gz");
    if (Files.isRegularFile(gz)) {
      return gz;
    }
    Path plain = dir.resolve(stem);
    if (Files.isRegularFile(plain)) {
      return plain;
    }
    throw new UncheckedIOException("Fashion-MNIST file " + gz + " not found; install the Debian package "
        + DEBIAN_PACKAGE + " (apt-get install " + DEBIAN_PACKAGE + "), or point PML4J_FASHION_MNIST at a directory "
        + "holding the four IDX files", new NoSuchFileException(gz.toString()));
  }
}
