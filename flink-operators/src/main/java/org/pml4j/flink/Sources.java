package org.pml4j.flink;

import java.nio.file.Path;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.pml4j.data.FashionMnist;

/**
 * The labeled-vector sources of pml4j, all on Flink's Source API (FLIP-27) and all replayable, so that a job restored
 * from a checkpoint sees exactly the records it had not yet processed:
 *
 * <ul>
 *   <li>{@link #generated}: any core {@link org.pml4j.data.DataSource} through {@link GeneratedRecords}; a
 *       {@link DataGeneratorSource} whose checkpointed state is the next index of each split. {@link #fashionMnist}
 *       (the Fashion-MNIST IDX files, {@link FashionMnist}) is one; seeded Gaussian clusters
 *       ({@link GeneratedRecords#synthetic}) another.
 *   <li>{@link #csv} and {@link #jsonLines}: {@link FileSource} with {@link LabeledVectorFormat}; the checkpointed
 *       state is the file split and the number of records read.
 *   <li>{@link #kafka}: {@link KafkaSource} with {@link LabeledVectorKafkaDeserializer}; the checkpointed state is the
 *       partition offsets.
 * </ul>
 *
 * Order: generator sources emit indices in order within a split; at source parallelism 1 the stream order is fully
 * determined (what the bit-exact recovery test relies on). Use {@code WatermarkStrategy.noWatermarks()}: no operator
 * of pml4j uses event time.
 */
public final class Sources {
  private Sources() {}

  private static final TypeInformation<LabeledVector> TYPE = TypeInformation.of(LabeledVector.class);

  /**
   * A bounded stream of the first {@code count} records of a generated source (seeded Gaussian clusters:
   * {@link GeneratedRecords#synthetic}).
   *
   * @param recordsPerSecond a rate limit per source subtask, or {@code <= 0} for none
   */
  public static DataGeneratorSource<LabeledVector> generated(GeneratedRecords generator, long count,
      double recordsPerSecond) {
    return generated(generator, count, rate(recordsPerSecond));
  }

  /** {@link #generated(GeneratedRecords, long, double)} with another rate limit (e.g. {@link ServingMarks#pacing}). */
  static DataGeneratorSource<LabeledVector> generated(GeneratedRecords generator, long count,
      RateLimiterStrategy<?> rate) {
    return new DataGeneratorSource<>(generator, count, rate, TYPE);
  }

  /**
   * A Fashion-MNIST split as a stream.
   *
   * @param dir the directory of the IDX files ({@link FashionMnist#DEFAULT_DIR})
   * @param limit at most this many records ({@code <= 0}: the whole split)
   * @param shuffleSeed a seed for a fixed permutation of the split, or null for the file order
   * @param idOffset added to the image index to form the id
   * @throws java.io.UncheckedIOException when the files are missing (naming the Debian package
   *     dataset-fashion-mnist)
   */
  public static DataGeneratorSource<LabeledVector> fashionMnist(Path dir, FashionMnist.Split split, long limit,
      Long shuffleSeed, long idOffset, double recordsPerSecond) {
    return fashionMnist(dir, split, limit, 1, shuffleSeed, idOffset, recordsPerSecond);
  }

  /**
   * Fashion-MNIST for {@code epochs} passes over the split, each in its own seeded order (see
   * {@link GeneratedRecords}); {@code limit > 0} caps the total number of records.
   */
  public static DataGeneratorSource<LabeledVector> fashionMnist(Path dir, FashionMnist.Split split, long limit,
      int epochs, Long shuffleSeed, long idOffset, double recordsPerSecond) {
    if (epochs < 1) {
      throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
    }
    GeneratedRecords gen = GeneratedRecords.fashionMnist(dir, split, shuffleSeed != null,
        shuffleSeed == null ? 0 : shuffleSeed, idOffset);
    long n = gen.rowsPerEpoch() * epochs;
    long count = limit > 0 ? Math.min(limit, n) : n;
    return new DataGeneratorSource<>(gen, count, rate(recordsPerSecond), TYPE);
  }

  /** CSV files or directories ({@link RecordParsers}: {@code label,f0,f1,...}, optional header). Bounded. */
  public static FileSource<LabeledVector> csv(Path... paths) {
    return FileSource.forRecordStreamFormat(LabeledVectorFormat.csv(), flinkPaths(paths)).build();
  }

  /** JSON-lines files or directories ({@link RecordParsers}: {@code {"id","label","vector"}}). Bounded. */
  public static FileSource<LabeledVector> jsonLines(Path... paths) {
    return FileSource.forRecordStreamFormat(LabeledVectorFormat.jsonLines(), flinkPaths(paths)).build();
  }

  /**
   * A Kafka topic of JSON {@link LabeledVector} values, read from the earliest offset (committed offsets of
   * {@code groupId} are not used for the start: Flink's checkpoints hold the positions, which is what makes a
   * restored job replay exactly).
   *
   * <pre>{@code
   * KafkaSource<LabeledVector> src = Sources.kafka("broker:9092", "vectors", "pml4j-trainer", true);
   * env.fromSource(src, WatermarkStrategy.noWatermarks(), "kafka vectors");
   * }</pre>
   *
   * @param bootstrapServers {@code host:port[,host:port]}
   * @param topic the topic
   * @param groupId the consumer group (offsets are committed to it on checkpoints, for monitoring)
   * @param bounded stop at the offsets that are the latest when the job starts (a replayable finite run), or read
   *     forever
   */
  public static KafkaSource<LabeledVector> kafka(String bootstrapServers, String topic, String groupId,
      boolean bounded) {
    return kafka(bootstrapServers, topic, groupId, bounded, new LabeledVectorKafkaDeserializer());
  }

  /** {@link #kafka(String, String, String, boolean)} with another record type (the retrieval catalog and queries). */
  public static <T> KafkaSource<T> kafka(String bootstrapServers, String topic, String groupId, boolean bounded,
      org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema<T> deserializer) {
    var b = KafkaSource.<T>builder().setBootstrapServers(bootstrapServers).setTopics(topic)
        .setGroupId(groupId).setStartingOffsets(OffsetsInitializer.earliest())
        .setDeserializer(deserializer);
    if (bounded) {
      b.setBounded(OffsetsInitializer.latest());
    }
    return b.build();
  }

  private static RateLimiterStrategy<?> rate(double perSecond) {
    return perSecond > 0 ? RateLimiterStrategy.perSecond(perSecond) : RateLimiterStrategy.noOp();
  }

  private static org.apache.flink.core.fs.Path[] flinkPaths(Path... paths) {
    if (paths.length == 0) {
      throw new IllegalArgumentException("no input path given");
    }
    org.apache.flink.core.fs.Path[] out = new org.apache.flink.core.fs.Path[paths.length];
    for (int i = 0; i < paths.length; i++) {
      out[i] = org.apache.flink.core.fs.Path.fromLocalFile(paths[i].toAbsolutePath().toFile());
    }
    return out;
  }
}
