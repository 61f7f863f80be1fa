package org.pml4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import org.pml4j.spec.Params;

/**
 * Fashion-MNIST (Zalando, 28×28 grey images of 10 clothing classes; 60,000 train and 10,000 test) read from its IDX
 * files: {@code train-images-idx3-ubyte.gz}, {@code train-labels-idx1-ubyte.gz}, {@code t10k-images-idx3-ubyte.gz},
 * {@code t10k-labels-idx1-ubyte.gz} (the uncompressed names work too). Pixels are scaled to {@code [0, 1]}
 * ({@code value / 255}), rows are the 784 pixels row-major, the sample shape is {@code [1, 28, 28]}, labels 0..9.
 *
 * <p>The files come from the Debian package {@value #DEBIAN_PACKAGE}, installed in {@value #DEFAULT_DIR}; another
 * directory can be given, or set with the environment variable {@code PML4J_FASHION_MNIST}.
 *
 * <p>The one Fashion-MNIST reader of pml4j: {@link #load} gives a split in memory ({@code pml4j train}), and
 * {@link #source} the same rows as a {@link DataSource} (the Flink job's generator source adapts it). A split's files
 * are decoded once per JVM (a shared cache of the raw bytes).
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
  /** Features per row: 784. */
  public static final int PIXELS = ROWS * COLS;
  /** Number of classes: 10. */
  public static final int CLASSES = 10;

  private static final ConcurrentHashMap<String, Images> CACHE = new ConcurrentHashMap<>();

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

    /** The split of a {@link DataSource.Split}. */
    public static Split of(DataSource.Split s) {
      return s == DataSource.Split.TRAIN ? TRAIN : TEST;
    }
  }

  /**
   * A decoded split: {@code count} images of {@value #PIXELS} bytes, row-major, and their labels (validated: 28×28,
   * counts agree, labels 0..9).
   */
  public record Images(byte[] pixels, byte[] labels, int count) {
    /** Image {@code i} as floats in {@code [0, 1]} ({@code value / 255}). */
    public float[] features(int i) {
      float[] x = new float[PIXELS];
      int off = i * PIXELS;
      for (int j = 0; j < PIXELS; j++) {
        x[j] = (pixels[off + j] & 0xff) / 255f;
      }
      return x;
    }

    /** The label of image {@code i}, 0..9. */
    public int label(int i) {
      return labels[i] & 0xff;
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
    return source(dir, split).load(limit);
  }

  /**
   * A split's decoded files, read once per JVM and directory (later calls share them).
   *
   * @throws UncheckedIOException when a file is missing (naming the Debian package) or cannot be read
   * @throws IllegalArgumentException when a file is corrupt
   */
  public static Images images(Path dir, Split split) {
    Path imagesFile = find(dir, split.fileStem() + "-images-idx3-ubyte");
    Path labelsFile = find(dir, split.fileStem() + "-labels-idx1-ubyte");
    // Keyed by the files' paths, sizes and modification times: a rewritten file is read again.
    String key;
    try {
      key = imagesFile.toAbsolutePath().normalize() + "|" + Files.size(imagesFile) + "|"
          + Files.getLastModifiedTime(imagesFile) + "|" + labelsFile.toAbsolutePath().normalize() + "|"
          + Files.size(labelsFile) + "|" + Files.getLastModifiedTime(labelsFile);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Fashion-MNIST from " + dir + ": " + e.getMessage(), e);
    }
    Images cached = CACHE.get(key);
    if (cached != null) {
      return cached;
    }
    Images read = read(dir, imagesFile, labelsFile);
    Images raced = CACHE.putIfAbsent(key, read);
    return raced != null ? raced : read;
  }

  private static Images read(Path dir, Path imagesFile, Path labelsFile) {
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
    for (int i = 0; i < n; i++) {
      int label = labels.get(i);
      if (label > 9) {
        throw Idx.corrupt(labelsFile, "label " + label + " at row " + i + " is outside 0..9");
      }
    }
    return new Images(images.values(), labels.values(), n);
  }

  /**
   * Whether a split's two files (gzip-compressed or plain) are in {@code dir}.
   */
  public static boolean isPresent(Path dir, Split split) {
    for (String stem : new String[] {"-images-idx3-ubyte", "-labels-idx1-ubyte"}) {
      Path p = dir.resolve(split.fileStem() + stem);
      if (!Files.isRegularFile(Path.of(p + ".gz")) && !Files.isRegularFile(p)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Checks that a split's files exist, without reading them.
   *
   * @throws UncheckedIOException naming the missing file and the Debian package {@value #DEBIAN_PACKAGE}
   */
  public static void requirePresent(Path dir, Split split) {
    find(dir, split.fileStem() + "-images-idx3-ubyte");
    find(dir, split.fileStem() + "-labels-idx1-ubyte");
  }

  /**
   * A split as a {@link DataSource}: row {@code i} is image {@code i} (pixels / 255), in file order. The files are
   * read on first use.
   *
   * @throws UncheckedIOException when the files are missing (naming the Debian package)
   */
  public static DataSource source(Path dir, Split split) {
    requirePresent(dir, split);
    return new Source(dir.toAbsolutePath().toString(), split);
  }

  private static final class Source implements DataSource {
    private static final long serialVersionUID = 1L;
    private final String dir;
    private final FashionMnist.Split split;
    private transient Images images;

    Source(String dir, FashionMnist.Split split) {
      this.dir = dir;
      this.split = split;
    }

    private Images images() {
      if (images == null) {
        images = FashionMnist.images(Path.of(dir), split);
      }
      return images;
    }

    @Override
    public String name() {
      return "fashion-mnist/" + split.name().toLowerCase(Locale.ROOT);
    }

    @Override
    public long size() {
      return images().count();
    }

    @Override
    public long[] sampleShape() {
      return new long[] {1, ROWS, COLS};
    }

    @Override
    public Row row(long i) {
      Images d = images();
      if (i < 0 || i >= d.count()) {
        throw new IndexOutOfBoundsException("row " + i + " of " + name() + " (" + d.count() + " rows)");
      }
      return new Row(d.label((int) i), d.features((int) i));
    }
  }

  /**
   * The {@code fashion-mnist} source of {@link DataSources}. Option: {@code dir} (default {@link #defaultDir()}).
   */
  public static final class Provider implements DataSourceProvider {
    @Override
    public String name() {
      return "fashion-mnist";
    }

    @Override
    public DataSource open(DataSource.Split split, JsonNode options) {
      Params p = Params.of("fashion-mnist", (ObjectNode) options);
      String dir = p.getString("dir", null);
      p.done();
      return source(dir == null ? defaultDir() : Path.of(dir), Split.of(split));
    }
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
