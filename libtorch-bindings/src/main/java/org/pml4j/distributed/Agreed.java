package org.pml4j.distributed;

import org.bytedeco.pytorch.Tensor;

/**
 * Collectives without the per-call shape agreement, for the data-parallel step's fixed protocol. Every {@link
 * Collective} call on c10d first all-gathers a small descriptor (collective, dtype, shape) so that ranks that disagree
 * get an IllegalArgumentException instead of Gloo aborting the process on a size mismatch; that doubles the round
 * trips. {@link DataParallelSync} establishes the agreement once per step instead (its first collective carries the
 * batch shape, and the gradient buckets' shapes were checked when the replicas attached), so its other collectives
 * of the step go through here. Other {@link Collective}s keep their checked calls.
 */
final class Agreed {
  private Agreed() {}

  /** {@link Collective#allGather}, unchecked on c10d. */
  static Tensor allGather(Collective c, Tensor local) {
    return c instanceof C10dCollective c10d ? c10d.allGatherAgreed(local) : c.allGather(local);
  }

  /** {@link Collective#allReduce}, unchecked on c10d. */
  static void allReduce(Collective c, Tensor tensor, Collective.Reduction reduction) {
    if (c instanceof C10dCollective c10d) {
      c10d.allReduceAgreed(tensor, reduction);
    } else {
      c.allReduce(tensor, reduction);
    }
  }

  /** {@link Collective#broadcast}, unchecked on c10d. */
  static void broadcast(Collective c, Tensor tensor) {
    if (c instanceof C10dCollective c10d) {
      c10d.broadcastAgreed(tensor);
    } else {
      c.broadcast(tensor);
    }
  }
}
