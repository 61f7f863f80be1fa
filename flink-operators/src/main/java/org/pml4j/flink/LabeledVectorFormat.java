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
import org.pml4j.data.ParsedRecord;
import org.pml4j.data.RecordReader;

/**
 * A {@link org.apache.flink.connector.file.src.FileSource} format reading one {@link LabeledVector} per line, as CSV or
 * JSON lines: the core's {@link RecordReader} (byte-order mark, blank lines, the CSV header, {@code line N:} in a
 * rejection's detail) over the core's parser ({@link org.pml4j.data.RecordParser}), each record converted by
 * {@link RecordParsers#of}. Unreadable content is marked for {@link ValidateFunction} to reject, so every line of a
 * file is trained on or in the rejected output.
 *
 * <p>Replayable: a file is read whole and in order by one reader, and the reader's checkpointed position is the number
 * of records already emitted, so a restored job resumes at the same record (FileSource's {@code SimpleStreamFormat}
 * contract). Record ids default to the record's position in its file (0, 1, …); give an {@code id} field or column
 * for unique ids across several files.
 */
public final class LabeledVectorFormat extends SimpleStreamFormat<LabeledVector> {
  private static final long serialVersionUID = 1L;

  private final RecordReader.Format syntax;

  /** A format of the given line syntax. */
  public LabeledVectorFormat(RecordReader.Format syntax) {
    this.syntax = java.util.Objects.requireNonNull(syntax, "syntax");
  }

  /** CSV lines. */
  public static LabeledVectorFormat csv() {
    return new LabeledVectorFormat(RecordReader.Format.CSV);
  }

  /** JSON lines. */
  public static LabeledVectorFormat jsonLines() {
    return new LabeledVectorFormat(RecordReader.Format.JSON_LINES);
  }

  @Override
  public StreamFormat.Reader<LabeledVector> createReader(Configuration config, FSDataInputStream stream) {
    RecordReader in = new RecordReader(new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8)),
        syntax);
    return new StreamFormat.Reader<>() {
      @Override
      public LabeledVector read() throws IOException {
        ParsedRecord r = in.next();
        return r == null ? null : RecordParsers.of(r);
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
