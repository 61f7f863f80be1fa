package org.pml4j.flink;

import org.pml4j.data.ParsedRecord;
import org.pml4j.data.RecordParser;

/**
 * {@link LabeledVector} over the core's one text parser, {@link RecordParser} (which describes the CSV and JSON-lines
 * syntax, the labels it accepts and its rejection reasons): a record the parser could not read carries its reason in
 * {@link LabeledVector#parseReason} ({@code malformed}, {@code bad_label}) for {@link ValidateFunction} to reject.
 * Files are read by {@link LabeledVectorFormat}, Kafka records by {@link LabeledVectorKafkaDeserializer}.
 */
public final class RecordParsers {
  private RecordParsers() {}

  /** The record as a {@link LabeledVector}, its rejection (if any) as the parse reason and detail. */
  public static LabeledVector of(ParsedRecord r) {
    LabeledVector v = new LabeledVector(r.id(), r.label(), r.features());
    if (r.rejection() != null) {
      v.parseReason = r.rejection().reason();
      v.parseDetail = r.rejection().detail();
    }
    return v;
  }

  /** Parses one JSON line ({@link RecordParser#parseJson(String, long)}). */
  public static LabeledVector parseJson(String line, long position) {
    return of(RecordParser.parseJson(line, position));
  }

  /** Parses one JSON value given as bytes, a Kafka record ({@link RecordParser#parseJson(byte[], long)}). */
  public static LabeledVector parseJson(byte[] bytes, long position) {
    return of(RecordParser.parseJson(bytes, position));
  }

  /** Parses one CSV data line ({@link RecordParser#parseCsv}). */
  public static LabeledVector parseCsv(String line, RecordParser.CsvLayout layout, long position) {
    return of(RecordParser.parseCsv(line, layout, position));
  }

  /** Formats a record as a CSV line {@code label,f0,...} (empty label when null). */
  public static String toCsv(LabeledVector v) {
    return RecordParser.toCsv(v.label, v.features);
  }

  /** Formats a record as a JSON line. */
  public static String toJson(LabeledVector v) {
    return RecordParser.toJson(v.id, v.label, v.features);
  }
}
