package org.pml4j.cli;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.LabeledDataset;
import org.pml4j.data.SyntheticClusters;
import picocli.CommandLine.Option;

/** The dataset options shared by {@code train} and {@code eval}. */
final class DatasetOptions {
  @Option(names = "--dataset", description = "fashion-mnist or synthetic (default: ${DEFAULT-VALUE})")
  String dataset = "fashion-mnist";

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Fashion-MNIST directory (default: $PML4J_FASHION_MNIST or " + FashionMnist.DEFAULT_DIR + ")")
  Path dataDir;

  @Option(names = "--limit", paramLabel = "N", description = "use only the first N training rows")
  Integer limit;

  @Option(names = "--test-limit", paramLabel = "N", description = "use only the first N test rows")
  Integer testLimit;

  @Option(names = "--classes", description = "synthetic: classes (default: ${DEFAULT-VALUE})")
  int classes = 10;

  @Option(names = "--dim", description = "synthetic: features per row (default: ${DEFAULT-VALUE})")
  int dim = 32;

  @Option(names = "--spread", description = "synthetic: per-coordinate noise around each class centre "
      + "(default: ${DEFAULT-VALUE})")
  double spread = 1.0;

  @Option(names = "--train-per-class", description = "synthetic: training rows per class (default: ${DEFAULT-VALUE})")
  int trainPerClass = 500;

  @Option(names = "--test-per-class", description = "synthetic: test rows per class (default: ${DEFAULT-VALUE})")
  int testPerClass = 100;

  @Option(names = "--data-seed", description = "synthetic: seed of the class centres and samples "
      + "(default: ${DEFAULT-VALUE})")
  long dataSeed = 1;

  String name() {
    String d = dataset.trim().toLowerCase(Locale.ROOT);
    if (!d.equals("fashion-mnist") && !d.equals("synthetic")) {
      throw new IllegalArgumentException("--dataset: unknown dataset '" + dataset + "'"
          + org.pml4j.spec.Messages.didYouMean(d, List.of("fashion-mnist", "synthetic")) + "; use fashion-mnist or "
          + "synthetic (pml4j stream also reads csv, jsonl and kafka)");
    }
    return d;
  }

  /** A split: {@code train} or {@code test}. */
  LabeledDataset load(String split) {
    boolean train = FashionMnist.Split.parse(split) == FashionMnist.Split.TRAIN;
    Integer lim = train ? limit : testLimit;
    if (lim != null && lim < 1) {
      throw new IllegalArgumentException("--limit/--test-limit must be >= 1");
    }
    if (name().equals("synthetic")) {
      SyntheticClusters g = new SyntheticClusters(classes, dim, spread, dataSeed);
      LabeledDataset d = train ? g.train(trainPerClass) : g.test(testPerClass);
      return lim == null ? d : d.head(lim);
    }
    if (dataDir != null && !Files.isDirectory(dataDir)) {
      throw new IllegalArgumentException("--data-dir: " + dataDir + " is not a directory (it should hold the "
          + "Fashion-MNIST IDX files, e.g. train-images-idx3-ubyte.gz; the Debian package "
          + FashionMnist.DEBIAN_PACKAGE + " installs them in " + FashionMnist.DEFAULT_DIR + ")");
    }
    Path dir = dataDir != null ? dataDir : FashionMnist.defaultDir();
    try {
      return FashionMnist.load(dir, train ? FashionMnist.Split.TRAIN : FashionMnist.Split.TEST,
          lim == null ? Integer.MAX_VALUE : lim);
    } catch (UncheckedIOException e) {
      throw new IllegalArgumentException((dataDir != null ? "--data-dir " + dataDir : "Fashion-MNIST (no --data-dir; "
          + "$PML4J_FASHION_MNIST or " + FashionMnist.DEFAULT_DIR + ")") + ": " + e.getMessage(), e);
    }
  }
}
