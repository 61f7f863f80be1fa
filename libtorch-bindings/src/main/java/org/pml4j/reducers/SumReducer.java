package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;

/** PML's {@code SumReducer}: the sum of all losses. */
public class SumReducer extends MeanReducer {
  @Override
  protected Tensor reduceAll(Tensor losses) {
    return losses.sum();
  }

  /** Registry factory (no parameters but {@code collect_stats}). */
  public static SumReducer fromSpec(Params p) {
    p.collectStats();
    return new SumReducer();
  }
}
