package org.pml4j.train;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.losses.MetricLoss;
import org.pml4j.miners.BaseMiner;

/**
 * What a {@link BaseTrainer} needs to be one replica of data-parallel training (issue 13): the metric loss computed
 * across the replicas' shards, agreement on whether a step is skipped, and the gradients averaged between backward
 * and the optimizer step. Every replica calls these in the same order with tensors of the same shapes. The
 * implementation on c10d is {@code org.pml4j.distributed.DataParallelSync}.
 */
public interface ReplicaSync {
  /** The number of replicas. */
  int worldSize();

  /**
   * The metric loss of this replica's shard against all replicas' embeddings (PML's DistributedLossWrapper around
   * {@code lossOrMemory}, with {@code miner} wrapped as DistributedMinerWrapper when not null).
   */
  Tensor metricLoss(MetricLoss lossOrMemory, BaseMiner miner, Tensor embeddings, Tensor labels);

  /** Whether {@code local} is true on every replica. */
  boolean all(boolean local);

  /** Replaces every parameter's gradient with its mean over the replicas (after backward, before the step). */
  void afterBackward();
}
