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
   * Starts a step on every replica (one collective): checks that every replica passes a batch of the same shape and
   * dtype (an IllegalArgumentException on every replica otherwise) and says whether the encoder output is finite on
   * every replica (when not, every replica skips the step).
   *
   * @param embeddings this replica's {@code [B, E]} encoder output
   * @param localFinite whether {@code embeddings} is finite here
   */
  boolean beginStep(Tensor embeddings, boolean localFinite);

  /**
   * The metric loss of this replica's shard against all replicas' embeddings (PML's DistributedLossWrapper around
   * {@code lossOrMemory}, with {@code miner} wrapped as DistributedMinerWrapper when not null).
   */
  Tensor metricLoss(MetricLoss lossOrMemory, BaseMiner miner, Tensor embeddings, Tensor labels);

  /**
   * Ends the step's backward on every replica (one collective): replaces every parameter's gradient with its mean over
   * the replicas and returns whether the loss was finite on every replica (when not, every replica skips the optimizer
   * step). Called also when the local loss is not finite (without a local backward: this replica then contributes
   * zero gradients).
   */
  boolean afterBackward(boolean localLossFinite);
}
