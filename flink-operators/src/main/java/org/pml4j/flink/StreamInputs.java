package org.pml4j.flink;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.pml4j.data.DataSource;
import org.pml4j.data.DataSources;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;

/**
 * The stream job's two input streams for its {@code dataset}: the training stream ({@code train-source}) and the
 * held-out stream ({@code heldout-source}), both at parallelism 1 (see {@link Sources}).
 *
 * @param train the training records
 * @param heldout the held-out records (evaluation, and queries with {@code queries = heldout})
 */
record StreamInputs(DataStream<LabeledVector> train, DataStream<LabeledVector> heldout) {
  /** Id offset of generated held-out records (disjoint from training ids). */
  static final long HELDOUT_ID_OFFSET = 1L << 40;

  /** The feature dimension of the configured dataset. */
  static int dimension(StreamJobConfig c) {
    return switch (c.dataset) {
      case "synthetic" -> c.synthetic.dimension;
      case "fashion-mnist" -> FashionMnist.PIXELS;
      case "csv", "jsonl", "kafka" -> c.dimension;
      default -> DataSources.open(c.dataset, DataSource.Split.TRAIN, null).numFeatures();
    };
  }

  /** Adds the dataset's sources to {@code env}. */
  static StreamInputs add(StreamExecutionEnvironment env, StreamJobConfig c) {
    switch (c.dataset) {
      case "synthetic" -> {
        StreamJobConfig.Synthetic s = c.synthetic;
        GeneratedRecords g = GeneratedRecords.synthetic(
            new SyntheticClusters(s.classes, s.dimension, s.noise, s.centerScale, s.seed), 0, s.corruptEvery);
        return of(env, Sources.generated(g, c.trainRecords > 0 ? c.trainRecords : 20_000, c.recordsPerSecond),
            Sources.generated(g.withIdOffset(HELDOUT_ID_OFFSET).withCorruptEvery(0), c.heldoutRecords,
                c.heldoutRecordsPerSecond));
      }
      case "fashion-mnist" -> {
        Path data = Path.of(c.dataDir);
        // held out: a seeded random subset of t10k, every class represented
        return of(env, Sources.fashionMnist(data, FashionMnist.Split.TRAIN, c.trainRecords, c.epochs,
            c.shuffleSeed, 0, c.recordsPerSecond), Sources.fashionMnist(data, FashionMnist.Split.TEST,
            c.heldoutRecords, 7L, 1_000_000, c.heldoutRecordsPerSecond));
      }
      case "csv" -> {
        return of(env, Sources.csv(inputPath("train_path", c.trainPath)),
            Sources.csv(inputPath("heldout_path", c.heldoutPath)));
      }
      case "jsonl" -> {
        return of(env, Sources.jsonLines(inputPath("train_path", c.trainPath)),
            Sources.jsonLines(inputPath("heldout_path", c.heldoutPath)));
      }
      case "kafka" -> {
        StreamJobConfig.Kafka k = c.kafka;
        return of(env, Sources.kafka(k.bootstrapServers, k.trainTopic, k.groupId + "-train", k.bounded),
            Sources.kafka(k.bootstrapServers, k.heldoutTopic, k.groupId + "-heldout", k.bounded));
      }
      default -> {
        // Any other source of the core registry, with its default options: the train split (in epochs when finite),
        // held out a seeded sample of the test split.
        GeneratedRecords g = new GeneratedRecords(DataSources.open(c.dataset, DataSource.Split.TRAIN, null),
            c.shuffleSeed != null, c.shuffleSeed == null ? 0 : c.shuffleSeed, 0, 0);
        GeneratedRecords h = new GeneratedRecords(DataSources.open(c.dataset, DataSource.Split.TEST, null), true, 7L,
            HELDOUT_ID_OFFSET, 0);
        return of(env, Sources.generated(g, records(g.rowsPerEpoch(), c.trainRecords, 20_000), c.recordsPerSecond),
            Sources.generated(h, records(h.rowsPerEpoch(), c.heldoutRecords, c.heldoutRecords),
                c.heldoutRecordsPerSecond));
      }
    }
  }

  private static StreamInputs of(StreamExecutionEnvironment env, Source<LabeledVector, ?, ?> train,
      Source<LabeledVector, ?, ?> heldout) {
    return new StreamInputs(source(env, train, "train-source"), source(env, heldout, "heldout-source"));
  }

  private static DataStream<LabeledVector> source(StreamExecutionEnvironment env, Source<LabeledVector, ?, ?> s,
      String name) {
    return env.fromSource(s, WatermarkStrategy.noWatermarks(), name).uid(name).setParallelism(1);
  }

  /** Records to read of a source with {@code rows} rows per pass: {@code limit > 0} caps it; unbounded: the default. */
  private static long records(long rows, long limit, long unboundedDefault) {
    if (rows == DataSource.UNBOUNDED) {
      return limit > 0 ? limit : unboundedDefault;
    }
    return limit > 0 ? Math.min(limit, rows) : rows;
  }

  /**
   * An input file or directory of the job, checked before the job is built (a missing file would otherwise fail
   * inside Flink's source enumerator, after the job started, with its restarts and stack traces).
   *
   * @throws IllegalArgumentException naming the key and the path when it does not exist or cannot be read
   */
  static Path inputPath(String key, String path) {
    if (path == null || path.isBlank()) {
      throw new IllegalArgumentException(key + " is required for this dataset");
    }
    Path p = Path.of(path).toAbsolutePath();
    if (!Files.exists(p)) {
      throw new IllegalArgumentException(key + ": no such file or directory " + p);
    }
    if (!Files.isReadable(p)) {
      throw new IllegalArgumentException(key + ": cannot read " + p);
    }
    return p;
  }
}
