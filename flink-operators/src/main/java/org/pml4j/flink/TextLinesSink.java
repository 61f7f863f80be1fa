package org.pml4j.flink;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.FileSystem.WriteMode;
import org.apache.flink.core.fs.Path;
import org.pml4j.onnx.ModelStore;

/**
 * Appends strings as lines (UTF-8, {@code \n}) to one file, through Flink's {@link FileSystem}: a local path or any
 * URI of Flink's file systems ({@code file://}, {@code hdfs://}, {@code s3://}, ...). One writer: run at parallelism 1.
 * At-least-once: after a recovery the lines written since the last checkpoint can appear again, so readers of the file
 * dedupe (the stream job's summary keys by model version). For reports, not for data products.
 *
 * <p>Flink's {@code FileSystem} cannot append, so a writer that finds the file already there (a restarted task, a
 * restored run continuing its directory) copies it first, and never loses what it held:
 *
 * <ul>
 *   <li><b>file systems</b> ({@code file}, {@code hdfs}): the old content is copied into a hidden temporary file in the
 *       same directory, which is renamed over the file (atomically on the local file system) while it stays open; new
 *       lines go to it. On the local file system every line is flushed at once (the CLI's progress reads the file
 *       while the job runs); on distributed ones at each checkpoint and at the end. The rename of an open file is
 *       what POSIX file systems and HDFS allow (not Windows).
 *   <li><b>object stores</b> ({@code s3}, {@code gs}, ...; see {@link OutputFileSystem}), which cannot append nor
 *       show an object before its upload completes: the writer holds the file's content in memory and writes the
 *       whole object at each checkpoint and at the end, when lines were added. Nothing is visible between
 *       checkpoints, and each checkpoint rewrites the file: fine for reports, not for large streams (send embeddings
 *       to Kafka instead).
 * </ul>
 *
 * A file that does not end with a line end (a writer that died mid-line) gets one before the new lines.
 */
public final class TextLinesSink implements Sink<String> {
  private static final long serialVersionUID = 1L;
  private final String file;

  /** A sink into the local file {@code file}. */
  public TextLinesSink(java.nio.file.Path file) {
    this(file.toAbsolutePath().toString());
  }

  /**
   * A sink into {@code location}: a local path or a URI ({@link OutputFileSystem#uri}).
   *
   * @throws IllegalArgumentException when {@code location} is null or blank
   */
  public TextLinesSink(String location) {
    this.file = OutputFileSystem.uri(location);
  }

  /** The file, as a URI. */
  public String location() {
    return file;
  }

  @Override
  public SinkWriter<String> createWriter(WriterInitContext context) throws IOException {
    Path p = new Path(URI.create(file));
    return OutputFileSystem.isObjectStore(p) ? new ObjectWriter(p) : new StreamWriter(p);
  }

  /** Lines into an open stream (file systems). */
  private static final class StreamWriter implements SinkWriter<String> {
    private final FSDataOutputStream out;
    private final boolean flushEachLine;

    StreamWriter(Path p) throws IOException {
      FileSystem fs = p.getFileSystem();
      flushEachLine = !fs.isDistributedFS();
      Path parent = p.getParent();
      if (parent != null) {
        fs.mkdirs(parent);
      }
      if (!fs.exists(p)) {
        out = fs.create(p, WriteMode.NO_OVERWRITE);
        return;
      }
      Path tmp = new Path(parent, ModelStore.temporaryName(p.getName()));
      FSDataOutputStream o = fs.create(tmp, WriteMode.NO_OVERWRITE);
      try {
        int last = copy(fs, p, o);
        if (last >= 0 && last != '\n') {
          o.write('\n');
        }
        o.flush();
        o.sync();
        OutputFileSystem.renameReplacing(fs, tmp, p); // o now writes to p
      } catch (IOException | RuntimeException e) {
        o.close();
        fs.delete(tmp, false);
        throw e;
      }
      out = o;
    }

    @Override
    public void write(String line, Context ctx) throws IOException {
      out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      if (flushEachLine) {
        out.flush(); // few, small lines: readers (the CLI's progress) see each one at once
      }
    }

    @Override
    public void flush(boolean endOfInput) throws IOException {
      out.flush();
    }

    @Override
    public void close() throws IOException {
      out.close();
    }
  }

  /** The whole file in memory, written as one object at each checkpoint (object stores). */
  private static final class ObjectWriter implements SinkWriter<String> {
    private final Path p;
    private final ByteArrayOutputStream content = new ByteArrayOutputStream();
    private boolean dirty;

    ObjectWriter(Path p) throws IOException {
      this.p = p;
      try {
        byte[] old = OutputFileSystem.read(p);
        content.write(old);
        if (old.length > 0 && old[old.length - 1] != '\n') {
          content.write('\n');
        }
      } catch (NoSuchFileException e) {
        // a new file
      }
    }

    @Override
    public void write(String line, Context ctx) {
      content.writeBytes((line + "\n").getBytes(StandardCharsets.UTF_8));
      dirty = true;
    }

    @Override
    public void flush(boolean endOfInput) throws IOException {
      if (dirty) {
        try (FSDataOutputStream out = p.getFileSystem().create(p, WriteMode.OVERWRITE)) {
          content.writeTo(out);
        }
        dirty = false;
      }
    }

    @Override
    public void close() throws IOException {
      flush(true);
    }
  }

  /** Copies {@code from} into {@code to}; returns the last byte copied, or -1 when the file was empty. */
  private static int copy(FileSystem fs, Path from, OutputStream to) throws IOException {
    int last = -1;
    byte[] buf = new byte[64 * 1024];
    try (InputStream in = fs.open(from)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        to.write(buf, 0, n);
        last = buf[n - 1] & 0xff;
      }
    }
    return last;
  }
}
