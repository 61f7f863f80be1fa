package org.pml4j.flink;

import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.pml4j.data.Rejection;

/**
 * Checks each record before training or embedding, by the core's one rule ({@link Rejection#check}): a feature
 * vector of the expected dimension, every value finite and within the magnitude bound ({@link #DEFAULT_MAX_ABS} unless
 * given), and (when required) a label. Good records go to the main output; bad ones go to the side output
 * {@link #REJECTED} with a reason, and are counted, and the job keeps running.
 *
 * <p>A record the parser could not read ({@link LabeledVector#parseReason}: {@code malformed}, {@code bad_label}) is
 * rejected with the parser's reason and detail.
 *
 * <p>Metrics (operator group): {@code rejected} (all), {@code rejected_wrong_dimension}, {@code rejected_non_finite},
 * {@code rejected_missing_label}, {@code rejected_missing_features}, {@code rejected_malformed},
 * {@code rejected_bad_label}, {@code rejected_out_of_range}, {@code accepted}. The count of rejected records
 * is also kept in operator state (so it survives a restore) and added to the job accumulator {@value #ACCUMULATOR} when
 * the task ends.
 */
public class ValidateFunction extends ProcessFunction<LabeledVector, LabeledVector> implements CheckpointedFunction {
  private static final long serialVersionUID = 1L;

  /** The side output of rejected records. */
  public static final OutputTag<RejectedRecord> REJECTED =
      new OutputTag<>("rejected", TypeInformation.of(RejectedRecord.class));
  /** Job accumulator holding the number of rejected records (a LongCounter). */
  public static final String ACCUMULATOR = "pml4j.rejected";

  /**
   * The default magnitude bound of {@link #ValidateFunction(int, boolean)}: see {@code StreamJobConfig.maxAbsFeature}.
   */
  public static final double DEFAULT_MAX_ABS = Rejection.DEFAULT_MAX_ABS;

  private final int dimension;
  private final boolean requireLabel;
  private final double maxAbs;

  private transient Counter rejected;
  private transient Counter accepted;
  private transient Map<String, Counter> byReason;
  private transient ListState<Long> countState;
  private transient long rejectedTotal;

  /**
   * @param dimension the expected number of features
   * @param requireLabel reject records without a label (training and evaluation streams)
   */
  public ValidateFunction(int dimension, boolean requireLabel) {
    this(dimension, requireLabel, DEFAULT_MAX_ABS);
  }

  /**
   * @param dimension the expected number of features
   * @param requireLabel reject records without a label (training and evaluation streams)
   * @param maxAbs reject records with a feature of larger magnitude (reason {@code out_of_range}); 0: no bound
   */
  public ValidateFunction(int dimension, boolean requireLabel, double maxAbs) {
    if (dimension < 1) {
      throw new IllegalArgumentException("dimension must be >= 1, got " + dimension);
    }
    if (!(maxAbs >= 0) || Double.isInfinite(maxAbs)) {
      throw new IllegalArgumentException("max_abs_feature must be a finite number >= 0 (0: no bound), got " + maxAbs);
    }
    this.dimension = dimension;
    this.requireLabel = requireLabel;
    this.maxAbs = maxAbs;
  }

  public int dimension() {
    return dimension;
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    countState = context.getOperatorStateStore()
        .getListState(new ListStateDescriptor<>("pml4j-rejected-count", Types.LONG));
    rejectedTotal = 0;
    if (context.isRestored()) {
      for (Long c : countState.get()) {
        rejectedTotal += c;
      }
    }
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    countState.update(java.util.List.of(rejectedTotal));
  }

  @Override
  public void open(OpenContext openContext) {
    var group = getRuntimeContext().getMetricGroup();
    rejected = group.counter("rejected");
    accepted = group.counter("accepted");
    rejected.inc(rejectedTotal);
    byReason = new HashMap<>();
    for (String r : new String[] {RejectedRecord.WRONG_DIMENSION, RejectedRecord.NON_FINITE,
        RejectedRecord.MISSING_LABEL, RejectedRecord.MISSING_FEATURES, RejectedRecord.MALFORMED,
        RejectedRecord.BAD_LABEL, RejectedRecord.OUT_OF_RANGE}) {
      byReason.put(r, group.counter("rejected_" + r));
    }
  }

  @Override
  public void processElement(LabeledVector v, Context ctx, Collector<LabeledVector> out) {
    Rejection why = Rejection.check(v.parseReason == null ? null : new Rejection(v.parseReason,
        String.valueOf(v.parseDetail)), v.label, v.features, dimension, requireLabel, maxAbs);
    String reason = why == null ? null : why.reason();
    String detail = why == null ? null : why.detail();
    if (reason == null) {
      accepted.inc();
      out.collect(v);
    } else {
      rejectedTotal++;
      rejected.inc();
      byReason.computeIfAbsent(reason, r -> getRuntimeContext().getMetricGroup().counter("rejected_" + r)).inc();
      ctx.output(REJECTED, new RejectedRecord(v, reason, detail));
    }
  }

  @Override
  public void close() throws Exception {
    // Called on the last attempt's normal end too: publish the (restored + new) total once per task.
    if (getRuntimeContext() != null) {
      getRuntimeContext().getLongCounter(ACCUMULATOR).add(rejectedTotal);
    }
    super.close();
  }
}
