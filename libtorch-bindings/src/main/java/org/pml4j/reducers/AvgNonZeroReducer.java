package org.pml4j.reducers;

import org.pml4j.spec.Params;

/** PML's {@code AvgNonZeroReducer}: the mean of the strictly positive losses ({@code ThresholdReducer(low=0)}). */
public class AvgNonZeroReducer extends ThresholdReducer {
  public AvgNonZeroReducer() {
    super(0.0, null);
  }

  @Override
  public String toString() {
    return "AvgNonZeroReducer()";
  }

  /** Registry factory (no parameters but {@code collect_stats}). */
  public static AvgNonZeroReducer fromSpec(Params p) {
    p.collectStats();
    return new AvgNonZeroReducer();
  }
}
