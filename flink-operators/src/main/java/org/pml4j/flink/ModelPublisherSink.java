package org.pml4j.flink;

import java.io.IOException;
import java.nio.file.Path;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSink;
import org.pml4j.onnx.ModelPublisher;

/**
 * Writes each {@link ModelUpdate} into a directory through {@link ModelPublisher}: {@code model-v<version>.onnx} plus
 * {@code manifest.json}, keeping the newest {@code keepLast} versions. The directory is a local path or any URI of
 * Flink's file systems ({@code file://}, {@code s3://}, {@code hdfs://}, ...): the files go through Flink's
 * {@code FileSystem} ({@link FlinkModelStore}), and readers see complete files only (a temporary file renamed into
 * place, or on object stores an object that appears when its upload completes; see {@link OutputFileSystem}).
 *
 * <p>Idempotent under recovery: a version that is not newer than the manifest's latest (a replay of updates emitted
 * between the last checkpoint and a failure) is skipped, so the manifest only moves forward. With the trainer's time
 * trigger off, a replayed version has the same bytes as the published one.
 *
 * <p>Run at parallelism 1 ({@link #apply} does): one publisher per directory. Metrics: {@code published},
 * {@code skipped}, {@code publishedVersion}.
 */
public final class ModelPublisherSink implements Sink<ModelUpdate> {
  private static final long serialVersionUID = 1L;

  private final String dir;
  private final int keepLast;

  /** A sink into the local directory {@code dir}. */
  public ModelPublisherSink(Path dir, int keepLast) {
    this(dir.toAbsolutePath().toString(), keepLast);
  }

  /**
   * A sink into {@code location}: a local path or a URI ({@link OutputFileSystem#uri}).
   *
   * @throws IllegalArgumentException when {@code location} is blank or {@code keepLast < 1}
   */
  public ModelPublisherSink(String location, int keepLast) {
    if (keepLast < 1) {
      throw new IllegalArgumentException("keepLast must be >= 1, got " + keepLast);
    }
    this.dir = OutputFileSystem.uri(location);
    this.keepLast = keepLast;
  }

  /** {@code models → publisher sink} at parallelism 1 (uid "pml4j-publisher"), into a local directory. */
  public static DataStreamSink<ModelUpdate> apply(DataStream<ModelUpdate> models, Path dir, int keepLast) {
    return apply(models, dir.toAbsolutePath().toString(), keepLast);
  }

  /** {@code models → publisher sink} at parallelism 1 (uid "pml4j-publisher"), into a path or URI. */
  public static DataStreamSink<ModelUpdate> apply(DataStream<ModelUpdate> models, String location, int keepLast) {
    return models.sinkTo(new ModelPublisherSink(location, keepLast)).name("pml4j-publisher").uid("pml4j-publisher")
        .setParallelism(1);
  }

  @Override
  public SinkWriter<ModelUpdate> createWriter(WriterInitContext context) {
    FlinkModelStore store = new FlinkModelStore(dir);
    ModelPublisher publisher = new ModelPublisher(store, keepLast);
    var g = context.metricGroup();
    Counter published = g.counter("published");
    Counter skipped = g.counter("skipped");
    long[] latest = {ModelPublisher.readManifest(store).latest()};
    g.gauge("publishedVersion", (Gauge<Long>) () -> latest[0]);
    return new SinkWriter<>() {
      @Override
      public void write(ModelUpdate m, Context ctx) {
        ModelPublisher.Manifest manifest = ModelPublisher.readManifest(store);
        if (!manifest.models().isEmpty() && m.version <= manifest.latest()) {
          skipped.inc();
          return;
        }
        publisher.publish(m.version, m.step, m.onnx);
        latest[0] = m.version;
        published.inc();
      }

      @Override
      public void flush(boolean endOfInput) {}

      @Override
      public void close() throws IOException {}
    };
  }
}
