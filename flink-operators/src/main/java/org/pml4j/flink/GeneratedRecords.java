package org.pml4j.flink;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.pml4j.data.DataSource;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;

/**
 * A core {@link DataSource} as a Flink generator function (for a {@code DataGeneratorSource}, see
 * {@link Sources#generated}): record {@code i} of the stream is a row of the source, with an id. Deterministic, so
 * the stream replays exactly from a checkpoint.
 *
 * <ul>
 *   <li>A finite source (Fashion-MNIST) repeats in epochs: record {@code i} is row {@code perm_e[i mod n]} of epoch
 *       {@code e = i / n}, with id {@code idOffset + e·n + row}. {@code perm_e} is the identity, or a permutation drawn
 *       from the shuffle seed (epoch 0 from the seed itself, later epochs from the seed mixed with the epoch).
 *   <li>An unbounded source (synthetic clusters) is addressed by id: record {@code i} is row {@code idOffset + i},
 *       with that id, so a held-out stream is the same source at another id offset (same centres, fresh samples).
 * </ul>
 *
 * <p>{@code corruptEvery > 0} turns every {@code corruptEvery}-th record (ids with {@code id % corruptEvery ==
 * corruptEvery - 1}) into a bad one, cycling through a NaN feature, a missing label and a vector one value short, to
 * exercise validation.
 */
public final class GeneratedRecords implements GeneratorFunction<Long, LabeledVector> {
  private static final long serialVersionUID = 1L;

  private final DataSource source;
  private final boolean shuffle;
  private final long shuffleSeed;
  private final long idOffset;
  private final long corruptEvery;
  private transient int[] perm;
  private transient long permEpoch;

  /**
   * @param source the rows
   * @param shuffle whether a finite source's epochs are permuted (ignored for an unbounded one)
   * @param shuffleSeed the permutations' seed
   * @param idOffset added to the row index to form the id (see the class comment)
   * @param corruptEvery 0, or the period of injected bad records
   * @throws IllegalArgumentException when {@code corruptEvery < 0}
   */
  public GeneratedRecords(DataSource source, boolean shuffle, long shuffleSeed, long idOffset, long corruptEvery) {
    if (corruptEvery < 0) {
      throw new IllegalArgumentException("corruptEvery must be >= 0, got " + corruptEvery);
    }
    this.source = java.util.Objects.requireNonNull(source, "source");
    this.shuffle = shuffle;
    this.shuffleSeed = shuffleSeed;
    this.idOffset = idOffset;
    this.corruptEvery = corruptEvery;
  }

  /** Synthetic clusters: record {@code i} is the row of id {@code idOffset + i}. */
  public static GeneratedRecords synthetic(SyntheticClusters clusters, long idOffset, long corruptEvery) {
    return new GeneratedRecords(clusters.source(0), false, 0, idOffset, corruptEvery);
  }

  /**
   * A Fashion-MNIST split, in file order or shuffled per epoch.
   *
   * @throws java.io.UncheckedIOException when the files are missing (naming the Debian package)
   */
  public static GeneratedRecords fashionMnist(Path dir, FashionMnist.Split split, boolean shuffle, long shuffleSeed,
      long idOffset) {
    return new GeneratedRecords(FashionMnist.source(dir, split), shuffle, shuffleSeed, idOffset, 0);
  }

  /** The same stream with other ids (the held-out companion of a synthetic training stream). */
  public GeneratedRecords withIdOffset(long offset) {
    return new GeneratedRecords(source, shuffle, shuffleSeed, offset, corruptEvery);
  }

  /** The same stream with other bad-record injection. */
  public GeneratedRecords withCorruptEvery(long every) {
    return new GeneratedRecords(source, shuffle, shuffleSeed, idOffset, every);
  }

  /** The source's rows per pass ({@link DataSource#UNBOUNDED} for a generator). */
  public long rowsPerEpoch() {
    return source.size();
  }

  /** Features per record. */
  public int dimension() {
    return source.numFeatures();
  }

  @Override
  public void open(SourceReaderContext readerContext) {
    source.size(); // loads a file-backed source once per reader, before the first record
  }

  /** The order of epoch {@code e}: the identity, or a permutation seeded by the shuffle seed and the epoch. */
  private int[] permutation(long e, int n) {
    if (perm != null && permEpoch == e) {
      return perm; // (after deserialization perm is null and permEpoch 0)
    }
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

  /** The record at index {@code i} of the stream. */
  @Override
  public LabeledVector map(Long i) {
    long n = source.size();
    long id;
    DataSource.Row row;
    if (n == DataSource.UNBOUNDED) {
      id = idOffset + i;
      row = source.row(id);
    } else {
      long e = i / n;
      int k = permutation(e, Math.toIntExact(n))[Math.toIntExact(i % n)];
      id = idOffset + e * n + k;
      row = source.row(k);
    }
    LabeledVector v = new LabeledVector(id, row.label(), row.features());
    if (corruptEvery > 0 && Math.floorMod(id, corruptEvery) == corruptEvery - 1) {
      long k = id / corruptEvery;
      switch ((int) Math.floorMod(k, 3L)) {
        case 0 -> v.features[(int) Math.floorMod(SyntheticClusters.mix(k, id), (long) v.features.length)] = Float.NaN;
        case 1 -> v.label = null;
        default -> v.features = Arrays.copyOf(v.features, v.features.length - 1);
      }
    }
    return v;
  }
}
