package org.pml4j.data;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.util.Locale;

/**
 * Reads the records of one csv or jsonl text, line by line ({@link RecordParser} describes both syntaxes): a UTF-8
 * byte-order mark is dropped, blank lines are skipped, and every other line is the header (CSV, first line only, by
 * {@link RecordParser#headerLayout}'s rule) or gives one record, whose rejection detail, if any, starts with
 * {@code line N:}. So every line of a file is either a record or in a rejection. Record ids default to the record's
 * position (0, 1, ...). Used by {@link RecordFile} ({@code pml4j train}) and by the Flink file source's format.
 *
 * <pre>{@code
 * try (RecordReader r = new RecordReader(Files.newBufferedReader(path), RecordReader.Format.CSV)) {
 *   for (ParsedRecord rec; (rec = r.next()) != null; ) { ... }
 * }
 * }</pre>
 */
public final class RecordReader implements Closeable {
  /** The line syntax. */
  public enum Format {
    /** {@code label,f0,f1,...} with an optional header. */
    CSV,
    /** One JSON object per line. */
    JSON_LINES;

    /** The dataset name of the format: {@code csv} or {@code jsonl}. */
    public String datasetName() {
      return this == CSV ? "csv" : "jsonl";
    }

    /**
     * {@code csv}, or {@code jsonl} (also {@code json_lines}, {@code json-lines}).
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Format parse(String s) {
      return switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "csv" -> CSV;
        case "jsonl", "json_lines", "json-lines" -> JSON_LINES;
        default -> throw new IllegalArgumentException("unknown record format '" + s + "'; use csv or jsonl");
      };
    }
  }

  private final BufferedReader in;
  private final Format format;
  private long position;
  private long lineNo;
  private boolean first = true;
  private String pending;
  private long pendingNo;
  private RecordParser.CsvLayout layout = RecordParser.CsvLayout.DEFAULT;

  /**
   * @param in the text (closed by {@link #close()})
   * @param format its syntax
   */
  public RecordReader(BufferedReader in, Format format) {
    this.in = java.util.Objects.requireNonNull(in, "in");
    this.format = java.util.Objects.requireNonNull(format, "format");
  }

  /** The number of the line of the last record returned (1-based; 0 before the first). */
  public long lineNumber() {
    return lineNo;
  }

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
        line = RecordParser.stripBom(line);
      }
      if (!line.isBlank()) {
        return line;
      }
    }
    return null;
  }

  /** The next record, or null at the end of the text. */
  public ParsedRecord next() throws IOException {
    String line = nextLine();
    if (line == null) {
      return null;
    }
    if (format == Format.JSON_LINES) {
      return located(RecordParser.parseJson(line, position++), lineNo);
    }
    if (first) {
      first = false;
      long no = lineNo;
      String next = nextLine();
      pending = next;
      pendingNo = lineNo;
      lineNo = no;
      RecordParser.CsvLayout h = RecordParser.headerLayout(line, next);
      if (h != null) {
        layout = h;
        return next();
      }
      if (RecordParser.looksLikeNames(line)) {
        return located(RecordParser.strayFirstLine(line, next, position++), no);
      }
    }
    return located(RecordParser.parseCsv(line, layout, position++), lineNo);
  }

  private static ParsedRecord located(ParsedRecord r, long lineNo) {
    return r.located("line " + lineNo + ": ");
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
