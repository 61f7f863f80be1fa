package org.pml4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.pml4j.data.DataSource;
import org.pml4j.data.DataSources;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.LabeledDataset;
import org.pml4j.data.Rejection;
import org.pml4j.data.SyntheticClusters;
import picocli.CommandLine.Option;

/**
 * The dataset options shared by {@code train}, {@code eval} and {@code bench}: a named source of
 * {@link DataSources} ({@code fashion-mnist}, {@code synthetic}, {@code csv}, {@code jsonl}) with its options, loaded
 * into memory. A csv or jsonl file takes its path from {@code --set train_path=FILE --set heldout_path=FILE}, the keys
 * of {@code pml4j stream}; its bad lines are left out and counted ({@link #rejections}).
 */
final class DatasetOptions {
  @Option(names = "--dataset", description = "a data source: fashion-mnist, synthetic, csv or jsonl (default: "
      + "${DEFAULT-VALUE}); csv and jsonl read --set train_path=FILE (training) and --set heldout_path=FILE (the test "
      + "split), as pml4j stream does; their bad lines are left out, counted and reported")
  String dataset = "fashion-mnist";

  @Option(names = "--set", paramLabel = "KEY=VALUE", description = "a data source option (repeatable), e.g. "
      + "--set train_path=train.csv --set heldout_path=test.csv; csv/jsonl also take dimension (default: from the "
      + "data) and max_abs_feature (default: 1e12); the value is read as JSON when it is a number or boolean")
  List<String> sets = new ArrayList<>();

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Fashion-MNIST directory (default: $PML4J_FASHION_MNIST or " + FashionMnist.DEFAULT_DIR + ")")
  Path dataDir;

  @Option(names = "--limit", paramLabel = "N", description = "use only the first N training rows")
  Integer limit;

  @Option(names = "--test-limit", paramLabel = "N", description = "use only the first N test rows")
  Integer testLimit;

  @Option(names = "--classes", description = "synthetic: classes (default: ${DEFAULT-VALUE})")
  int classes = SyntheticClusters.DEFAULT_CLASSES;

  @Option(names = "--dim", description = "synthetic: features per row (default: ${DEFAULT-VALUE})")
  int dim = SyntheticClusters.DEFAULT_DIMENSION;

  @Option(names = "--spread", description = "synthetic: per-coordinate noise (standard deviation) around each class "
      + "centre (default: ${DEFAULT-VALUE})")
  double spread = SyntheticClusters.DEFAULT_NOISE;

  @Option(names = "--train-per-class", description = "synthetic: training rows = this × classes, labels drawn "
      + "uniformly (default: ${DEFAULT-VALUE})")
  int trainPerClass = 500;

  @Option(names = "--test-per-class", description = "synthetic: test rows = this × classes (default: ${DEFAULT-VALUE})")
  int testPerClass = 100;

  @Option(names = "--data-seed", description = "synthetic: seed of the class centres and samples "
      + "(default: ${DEFAULT-VALUE})")
  long dataSeed = SyntheticClusters.DEFAULT_SEED;

  String name() {
    String d = dataset.trim().toLowerCase(Locale.ROOT);
    if (!DataSources.has(d)) {
      throw new IllegalArgumentException("--dataset: unknown dataset '" + dataset + "'"
          + org.pml4j.spec.Messages.didYouMean(d, List.copyOf(DataSources.names())) + "; use "
          + String.join(", ", DataSources.names()) + " (pml4j stream also reads kafka)");
    }
    return d;
  }

  /** The source's options from the command line. */
  private ObjectNode options() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    if (name().equals("synthetic")) {
      o.put("classes", classes).put("dimension", dim).put("noise", spread).put("seed", dataSeed);
    } else if (name().equals("fashion-mnist") && dataDir != null) {
      o.put("dir", dataDir.toString());
    }
    for (String s : sets) {
      int eq = s.indexOf('=');
      if (eq < 1) {
        throw new IllegalArgumentException("--set expects KEY=VALUE, got '" + s + "'");
      }
      String value = s.substring(eq + 1);
      JsonNode v;
      try {
        v = SpecArgs.JSON.readTree(value);
      } catch (java.io.IOException e) {
        v = null;
      }
      o.set(s.substring(0, eq).trim(), v != null && (v.isNumber() || v.isBoolean()) ? v
          : JsonNodeFactory.instance.textNode(value));
    }
    return o;
  }

  /**
   * What {@link #load} left out of a split (the bad lines of a csv or jsonl file); {@link Rejection.Summary#NONE}
   * before loading it or for other sources.
   */
  Rejection.Summary rejections(String split) {
    return rejected.getOrDefault(DataSource.Split.parse(split), Rejection.Summary.NONE);
  }

  /**
   * One line on what a split left out ({@code "csv/train: left out 2 of 50 records (bad_label 2); first: ..."}),
   * or null when nothing was.
   */
  String rejectionNote(String split, LabeledDataset loaded) {
    Rejection.Summary r = rejections(split);
    if (r.count() == 0) {
      return null;
    }
    long total = r.count() + sourceRows.get(DataSource.Split.parse(split));
    return loaded.name() + ": left out " + r.toString().replaceFirst("^\\d+", r.count() + " of " + total
        + " records");
  }

  private final Map<DataSource.Split, Rejection.Summary> rejected = new EnumMap<>(DataSource.Split.class);
  private final Map<DataSource.Split, Long> sourceRows = new EnumMap<>(DataSource.Split.class);

  /** A split: {@code train} or {@code test}. */
  LabeledDataset load(String split) {
    DataSource.Split s = DataSource.Split.parse(split);
    boolean train = s == DataSource.Split.TRAIN;
    Integer lim = train ? limit : testLimit;
    if (lim != null && lim < 1) {
      throw new IllegalArgumentException("--limit/--test-limit must be >= 1");
    }
    boolean fashion = name().equals("fashion-mnist");
    if (fashion && dataDir != null && !Files.isDirectory(dataDir)) {
      throw new IllegalArgumentException("--data-dir: " + dataDir + " is not a directory (it should hold the "
          + "Fashion-MNIST IDX files, e.g. train-images-idx3-ubyte.gz; the Debian package "
          + FashionMnist.DEBIAN_PACKAGE + " installs them in " + FashionMnist.DEFAULT_DIR + ")");
    }
    try {
      DataSource source = DataSources.open(name(), s, options());
      if (source.size() != DataSource.UNBOUNDED) {
        rejected.put(s, source.rejections());
        sourceRows.put(s, source.size());
      }
      if (source.size() == DataSource.UNBOUNDED) {
        int rows = Math.multiplyExact(train ? trainPerClass : testPerClass, classes);
        if (rows < 1) {
          throw new IllegalArgumentException("--train-per-class/--test-per-class must be >= 1");
        }
        return source.load(lim == null ? rows : Math.min(rows, lim));
      }
      return source.load(lim == null ? Integer.MAX_VALUE : lim);
    } catch (UncheckedIOException e) {
      if (!fashion) {
        throw e;
      }
      throw new IllegalArgumentException((dataDir != null ? "--data-dir " + dataDir : "Fashion-MNIST (no --data-dir; "
          + "$PML4J_FASHION_MNIST or " + FashionMnist.DEFAULT_DIR + ")") + ": " + e.getMessage(), e);
    }
  }
}
