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
 * JSON lines ({@link RecordParsers} describes both). A UTF-8 byte-order mark is dropped; blank lines are skipped;
 * every other line is the header (CSV, first line only, by {@link RecordParsers#headerLayout}'s rule) or gives a
 * record, with unreadable content marked for {@link ValidateFunction} to reject (its detail starts with
 * {@code line N:}). So every line of a file is trained on or in the rejected output.
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
      private long lineNo;
      private boolean first = true;
      private String pending;
      private long pendingNo;
      private RecordParsers.CsvLayout layout = RecordParsers.CsvLayout.DEFAULT;

      /** The next non-blank line (the pending one first), with {@link #lineNo} set to its number; null at the end. */
      private String nextLine() throws IOException {
        if (pending != null) {
          String l = pending;
          pending = null;
          lineNo = pendingNo;
          return l;
        }
        String line;
        while ((line = in.readLine()) != null) {
          lineNo++;
          if (lineNo == 1) {
            line = RecordParsers.stripBom(line);
          }
          if (!line.isBlank()) {
            return line;
          }
        }
        return null;
      }

      @Override
      public LabeledVector read() throws IOException {
        String line = nextLine();
        if (line == null) {
          return null;
        }
        if (syntax == Syntax.JSON_LINES) {
          return located(RecordParsers.parseJson(line, position++), lineNo);
        }
        if (first) {
          first = false;
          long no = lineNo;
          String next = nextLine();
          pending = next;
          pendingNo = lineNo;
          lineNo = no;
          RecordParsers.CsvLayout h = RecordParsers.headerLayout(line, next);
          if (h != null) {
            layout = h;
            return read();
          }
          if (RecordParsers.looksLikeNames(line)) {
            return located(RecordParsers.strayFirstLine(line, next, position++), no);
          }
        }
        return located(RecordParsers.parseCsv(line, layout, position++), lineNo);
      }

      @Override
      public void close() throws IOException {
        in.close();
      }
    };
  }

  /** Prefixes a parse problem's detail with the line number, so that the rejected line can be found. */
  private static LabeledVector located(LabeledVector v, long lineNo) {
    if (v.parseDetail != null) {
      v.parseDetail = "line " + lineNo + ": " + v.parseDetail;
    }
    return v;
  }

  @Override
  public TypeInformation<LabeledVector> getProducedType() {
    return TypeInformation.of(LabeledVector.class);
  }
}
