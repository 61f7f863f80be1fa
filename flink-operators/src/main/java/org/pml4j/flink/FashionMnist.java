package org.pml4j.flink;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.GZIPInputStream;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * Fashion-MNIST (Zalando; 28×28 grey images, 10 classes) read from the IDX gzip files that the Debian package
 * {@code dataset-fashion-mnist} installs in {@value #DEFAULT_DIR}: {@code train-*} (60,000 images) for training and
 * {@code t10k-*} (10,000) as the held-out stream.
 *
 * <p>As a generator function: record {@code i} is image {@code perm[i]} of the split, with features = pixel / 255
 * (784 floats) and id {@code idOffset + perm[i]}. {@code perm} is the identity, or a permutation drawn from
 * {@code shuffleSeed}: deterministic either way, so the stream replays exactly from a checkpoint. The files are read
 * once per JVM and split (a shared cache).
 */
public final class FashionMnist implements GeneratorFunction<Long, LabeledVector> {
  private static final long serialVersionUID = 1L;
  /** Where the Debian package {@code dataset-fashion-mnist} puts the files. */
  public static final String DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
  public static final int ROWS = 28;
  public static final int COLS = 28;
  public static final int PIXELS = ROWS * COLS;
  public static final int CLASSES = 10;
  /** Class names, by label. */
  public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

  private static final ConcurrentHashMap<String, Data> CACHE = new ConcurrentHashMap<>();

  /** The two splits. */
  public enum Split {
    TRAIN("train"), TEST("t10k");

    final String prefix;

    Split(String prefix) {
      this.prefix = prefix;
    }
  }

  /** A loaded split: {@code n} images of 784 bytes, row-major, and their labels. */
  public record Data(byte[] images, byte[] labels, int count) {
    /** Image {@code i} as floats in [0, 1]. */
    public float[] features(int i) {
      float[] x = new float[PIXELS];
      int off = i * PIXELS;
      for (int j = 0; j < PIXELS; j++) {
        x[j] = (images[off + j] & 0xff) / 255f;
      }
      return x;
    }

    public int label(int i) {
      return labels[i] & 0xff;
    }
  }

  private final String dir;
  private final Split split;
  private final long shuffleSeed;
  private final boolean shuffle;
  private final long idOffset;
  private transient Data data;
  private transient int[] perm;
  private transient long permEpoch = -1;

  /**
   * @param dir the directory of the IDX gzip files
   * @param split TRAIN or TEST
   * @param shuffle whether to draw a permutation from {@code shuffleSeed}
   * @param shuffleSeed the permutation's seed
   * @param idOffset added to the image index to form the record id
   */
  public FashionMnist(Path dir, Split split, boolean shuffle, long shuffleSeed, long idOffset) {
    this.dir = dir.toAbsolutePath().toString();
    this.split = split;
    this.shuffle = shuffle;
    this.shuffleSeed = shuffleSeed;
    this.idOffset = idOffset;
  }

  /** The IDX files of a split in {@code dir}. */
  public static Path[] files(Path dir, Split split) {
    return new Path[] {dir.resolve(split.prefix + "-images-idx3-ubyte.gz"),
        dir.resolve(split.prefix + "-labels-idx1-ubyte.gz")};
  }

  /**
   * Checks that the split's files exist.
   *
   * @throws IllegalStateException naming the missing files and the Debian package that provides them
   */
  public static void requirePresent(Path dir, Split split) {
    List<String> missing = new ArrayList<>();
    for (Path p : files(dir, split)) {
      if (!Files.isReadable(p)) {
        missing.add(p.toString());
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalStateException("Fashion-MNIST not found: missing " + String.join(", ", missing)
          + ". Install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), which puts"
          + " the IDX files in " + DEFAULT_DIR + ", or point the job at a directory holding"
          + " {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz");
    }
  }

  /** Loads a split (cached per JVM). */
  public static Data load(Path dir, Split split) {
    String key = dir.toAbsolutePath() + "|" + split;
    return CACHE.computeIfAbsent(key, k -> read(dir, split));
  }

  private static Data read(Path dir, Split split) {
    requirePresent(dir, split);
    Path[] f = files(dir, split);
    try {
      byte[] images;
      int n;
      try (DataInputStream in = open(f[0])) {
        int magic = in.readInt();
        if (magic != 0x00000803) {
          throw new IOException(f[0] + ": not an IDX3 image file (magic " + Integer.toHexString(magic) + ")");
        }
        n = in.readInt();
        int rows = in.readInt();
        int cols = in.readInt();
        if (rows != ROWS || cols != COLS) {
          throw new IOException(f[0] + ": images are " + rows + "x" + cols + ", expected 28x28");
        }
        images = new byte[n * PIXELS];
        in.readFully(images);
      }
      byte[] labels;
      try (DataInputStream in = open(f[1])) {
        int magic = in.readInt();
        if (magic != 0x00000801) {
          throw new IOException(f[1] + ": not an IDX1 label file (magic " + Integer.toHexString(magic) + ")");
        }
        int m = in.readInt();
        if (m != n) {
          throw new IOException(f[1] + " has " + m + " labels for " + n + " images");
        }
        labels = new byte[n];
        in.readFully(labels);
      }
      return new Data(images, labels, n);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read Fashion-MNIST from " + dir + ": " + e.getMessage(), e);
    }
  }

  private static DataInputStream open(Path p) throws IOException {
    InputStream raw = Files.newInputStream(p);
    return new DataInputStream(new java.io.BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16));
  }

  /** Number of images of a split. */
  public static int count(Path dir, Split split) {
    return load(dir, split).count();
  }

  @Override
  public void open(SourceReaderContext readerContext) {
    init();
  }

  private void init() {
    if (data != null) {
      return;
    }
    data = load(Path.of(dir), split);
    permEpoch = -1;
  }

  /** The order of epoch {@code e}: the identity, or a permutation seeded by the shuffle seed and the epoch. */
  private int[] permutation(long e) {
    if (permEpoch == e) {
      return perm;
    }
    int n = data.count();
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    if (shuffle) {
      // Epoch 0 keeps the single-epoch order of earlier versions; later epochs mix the epoch into the seed.
      SplittableRandom r = new SplittableRandom(e == 0 ? shuffleSeed : shuffleSeed ^ (0x9E3779B97F4A7C15L * e));
      for (int i = n - 1; i > 0; i--) {
        int j = r.nextInt(i + 1);
        int t = p[i];
        p[i] = p[j];
        p[j] = t;
      }
    }
    perm = p;
    permEpoch = e;
    return p;
  }

  /**
   * Record {@code i} of the stream: image {@code perm_e[i mod n]} of epoch {@code e = i / n} (the split repeats, each
   * epoch in its own seeded order), with id {@code idOffset + e * n + image}.
   */
  @Override
  public LabeledVector map(Long i) {
    init();
    int n = data.count();
    long e = i / n;
    int k = permutation(e)[Math.toIntExact(i % n)];
    return new LabeledVector(idOffset + e * n + k, (long) data.label(k), data.features(k));
  }
}
