package org.pml4j.losses;

import java.util.Map;

/**
 * A loss that carries state across calls (CrossBatchMemory's queue, DynamicSoftMarginLoss's histogram). The snapshot
 * maps PML's attribute names ({@code queue_idx}, {@code has_been_filled}, {@code embedding_memory}, {@code hist_}, …)
 * to {@code Long}, {@code Boolean} or a {@code Tensor} copy.
 */
public interface StatefulLoss {
  /** A snapshot of the state, keyed by PML's attribute names. */
  Map<String, Object> stateSnapshot();
}
