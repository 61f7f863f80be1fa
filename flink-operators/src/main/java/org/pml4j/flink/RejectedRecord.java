package org.pml4j.flink;

import java.util.Objects;
import org.pml4j.data.Rejection;

/** A record that failed validation, with the reason; the element type of {@link ValidateFunction#REJECTED}. */
public class RejectedRecord {
  /** Reason codes: those of the core's validation rule, {@link Rejection}. */
  public static final String WRONG_DIMENSION = Rejection.WRONG_DIMENSION;
  public static final String NON_FINITE = Rejection.NON_FINITE;
  public static final String MISSING_LABEL = Rejection.MISSING_LABEL;
  public static final String MISSING_FEATURES = Rejection.MISSING_FEATURES;
  /** A feature beyond the validation's magnitude bound ({@code max_abs_feature}). */
  public static final String OUT_OF_RANGE = Rejection.OUT_OF_RANGE;
  /** A line or value the parser could not read (not JSON, a value that is not a number, a stray first line). */
  public static final String MALFORMED = Rejection.MALFORMED;
  /** A label that is not an integer of the int64 range ("3.5", "abc", 99999999999999999999, true). */
  public static final String BAD_LABEL = Rejection.BAD_LABEL;
  /**
   * A record of a batch the trainer skipped because its encoder output, loss or gradient was not finite (the whole
   * batch is rejected: the step is all or nothing).
   */
  public static final String NONFINITE_STEP = "nonfinite_step";

  /** The record (as received). */
  public LabeledVector record;
  /** One of the reason codes above. */
  public String reason;
  /** Human-readable detail ("expected 784 features, got 783"). */
  public String detail;

  public RejectedRecord() {}

  public RejectedRecord(LabeledVector record, String reason, String detail) {
    this.record = record;
    this.reason = reason;
    this.detail = detail;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RejectedRecord r && Objects.equals(r.record, record) && Objects.equals(r.reason, reason)
        && Objects.equals(r.detail, detail);
  }

  @Override
  public int hashCode() {
    return Objects.hash(record, reason, detail);
  }

  @Override
  public String toString() {
    return "RejectedRecord{id=" + (record == null ? "null" : record.id) + ", reason=" + reason + ", " + detail + "}";
  }
}
