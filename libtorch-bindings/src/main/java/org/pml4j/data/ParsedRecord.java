package org.pml4j.data;

/**
 * One record of a csv or jsonl line as {@link RecordParser} read it. A record the parser could not read keeps what it
 * did read (an unreadable feature is NaN) and carries the first problem found as its {@link #rejection}.
 *
 * @param id the record's id: its {@code id} field or column, else its position in the file (0, 1, ...)
 * @param label the class label, or null when the record has none
 * @param features the features, or null when the record has none; owned by the record
 * @param rejection why the record cannot be read ({@link Rejection#MALFORMED}, {@link Rejection#BAD_LABEL}), or null
 */
public record ParsedRecord(long id, Long label, float[] features, Rejection rejection) {
  /** Whether the parser read the record (validation may still reject it: {@link Rejection#check}). */
  public boolean readable() {
    return rejection == null;
  }

  /** This record with {@code prefix} before its rejection's detail (a line number); itself when it has none. */
  public ParsedRecord located(String prefix) {
    return rejection == null ? this : new ParsedRecord(id, label, features, rejection.prefixed(prefix));
  }
}
