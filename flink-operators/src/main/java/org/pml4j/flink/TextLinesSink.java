package org.pml4j.flink;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * Appends strings as lines to a local file (one writer: run at parallelism 1). At-least-once: after a recovery the
 * lines written since the last checkpoint can appear again, so readers of the file dedupe (the stream job's summary
 * keys by model version). For reports, not for data products.
 */
public final class TextLinesSink implements Sink<String> {
  private static final long serialVersionUID = 1L;
  private final String file;

  public TextLinesSink(Path file) {
    this.file = file.toAbsolutePath().toString();
  }

  @Override
  public SinkWriter<String> createWriter(WriterInitContext context) throws IOException {
    Path p = Path.of(file);
    if (p.getParent() != null) {
      Files.createDirectories(p.getParent());
    }
    BufferedWriter w = Files.newBufferedWriter(p, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
    return new SinkWriter<>() {
      @Override
      public void write(String line, Context ctx) throws IOException {
        w.write(line);
        w.newLine();
        w.flush(); // few, small lines: readers (the CLI's progress) see each one at once
      }

      @Override
      public void flush(boolean endOfInput) throws IOException {
        w.flush();
      }

      @Override
      public void close() throws IOException {
        w.close();
      }
    };
  }
}
