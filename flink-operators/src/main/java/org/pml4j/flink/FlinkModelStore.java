package org.pml4j.flink;

import java.io.IOException;
import java.util.List;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.pml4j.onnx.ModelPublisher;
import org.pml4j.onnx.ModelStore;

/**
 * A {@link ModelStore} over Flink's {@link FileSystem}, so that {@link ModelPublisher} publishes into any location
 * Flink can write: {@code file://}, {@code hdfs://}, {@code s3://} (with Flink's S3 plugin), ... Files are written
 * with {@link OutputFileSystem#writeAtomically}: a temporary file renamed into place on file systems, the final name
 * written directly on object stores, whose objects appear only once complete (see {@link OutputFileSystem}). Either
 * way a reader never sees a partial model or manifest; the model file is complete before the manifest names it.
 *
 * <p>Flink's {@code FileSystem} has no locks: {@link #lock()} locks nothing, and only one publisher may write to a
 * directory ({@link ModelPublisherSink} runs at parallelism 1).
 */
public final class FlinkModelStore implements ModelStore {
  private final Path dir;

  /** A store in {@code location}: a local path or any URI Flink's file systems handle ({@link OutputFileSystem}). */
  public FlinkModelStore(String location) {
    this.dir = OutputFileSystem.path(location);
  }

  /** The directory as a Flink path. */
  public Path directory() {
    return dir;
  }

  @Override
  public String location() {
    return dir.toString();
  }

  @Override
  public String location(String name) {
    return new Path(dir, name).toString();
  }

  @Override
  public void createDirectory() throws IOException {
    if (!OutputFileSystem.isObjectStore(dir)) {
      FileSystem fs = dir.getFileSystem();
      if (!fs.mkdirs(dir)) {
        throw new IOException("cannot create the directory " + dir);
      }
    }
  }

  @Override
  public byte[] read(String name) throws IOException {
    return OutputFileSystem.read(new Path(dir, name));
  }

  @Override
  public void writeAtomically(String name, byte[] bytes) throws IOException {
    OutputFileSystem.writeAtomically(new Path(dir, name), bytes);
  }

  @Override
  public List<String> list() throws IOException {
    return OutputFileSystem.list(dir);
  }

  @Override
  public void delete(String name) throws IOException {
    Path p = new Path(dir, name);
    FileSystem fs = p.getFileSystem();
    if (!fs.delete(p, false) && fs.exists(p)) {
      throw new IOException("cannot delete " + p);
    }
  }

  @Override
  public Lock lock() {
    return () -> {};
  }

  @Override
  public String toString() {
    return "FlinkModelStore[" + dir + "]";
  }
}
