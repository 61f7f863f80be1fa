package org.pml4j.flink;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.reader.SimpleStreamFormat;
import org.apache.flink.connector.file.src.reader.StreamFormat;
import org.apache.flink.core.fs.FSDataInputStream;

/**
 * A {@link org.apache.flink.connector.file.src.FileSource} format reading one {@link LabeledVector} per line, as CSV or
 * JSON lines ({@link RecordParsers} describes both). Blank lines are skipped; every other line gives a record, with
 * unreadable content left for {@link ValidateFunction} to reject.
 *
 * <p>Replayable: a file is read whole and in order by one reader, and the reader's checkpointed position is the number
 * of records already emitted, so a restored job resumes at the same record (FileSource's {@code SimpleStreamFormat}
 * contract). Record ids default to the record's position in its file (0, 1, …); give an {@code id} field or column
 * for unique ids across several files.
 */
public final class LabeledVectorFormat extends SimpleStreamFormat<LabeledVector> {
  private static final long serialVersionUID = 1L;

  /** The line syntax. */
  public enum Syntax { CSV, JSON_LINES }

  private final Syntax syntax;

  public LabeledVectorFormat(Syntax syntax) {
    this.syntax = syntax;
  }

  public static LabeledVectorFormat csv() {
    return new LabeledVectorFormat(Syntax.CSV);
  }

  public static LabeledVectorFormat jsonLines() {
    return new LabeledVectorFormat(Syntax.JSON_LINES);
  }

  @Override
  public StreamFormat.Reader<LabeledVector> createReader(Configuration config, FSDataInputStream stream) {
    BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8));
    return new StreamFormat.Reader<>() {
      private long position;
      private boolean first = true;
      private RecordParsers.CsvLayout layout = RecordParsers.CsvLayout.DEFAULT;

      @Override
      public LabeledVector read() throws IOException {
        String line;
        while ((line = in.readLine()) != null) {
          if (line.isBlank()) {
            continue;
          }
          if (syntax == Syntax.JSON_LINES) {
            return RecordParsers.parseJson(line, position++);
          }
          if (first) {
            first = false;
            RecordParsers.CsvLayout h = RecordParsers.headerLayout(line);
            if (h != null) {
              layout = h;
              continue;
            }
          }
          return RecordParsers.parseCsv(line, layout, position++);
        }
        return null;
      }

      @Override
      public void close() throws IOException {
        in.close();
      }
    };
  }

  @Override
  public TypeInformation<LabeledVector> getProducedType() {
    return TypeInformation.of(LabeledVector.class);
  }
}
