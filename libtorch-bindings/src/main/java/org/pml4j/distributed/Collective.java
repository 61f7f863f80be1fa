package org.pml4j.distributed;

import org.bytedeco.pytorch.Tensor;

/**
 * The collectives that data-parallel metric learning needs, over a fixed group of {@link #worldSize()} replicas, each
 * knowing its {@link #rank()}. Every replica must call the same collectives in the same order with tensors of the same
 * shape and dtype (the calls block until all replicas have made them, or fail after the group's timeout).
 *
 * <p>None of the collectives is differentiable: results carry no autograd history (see {@link DistributedLossWrapper}
 * for how gradients reach the local rows). Implementations are confined to the thread that uses them.
 */
public interface Collective extends AutoCloseable {
  /** How {@link #allReduce} combines the replicas' tensors. */
  enum Reduction {
    /** Element-wise sum. */
    SUM,
    /** Element-wise mean (sum divided by the world size; floating tensors only). */
    AVG
  }

  /** This replica's rank, in {@code [0, worldSize())}. */
  int rank();

  /** The number of replicas in the group. */
  int worldSize();

  /**
   * Concatenates every replica's {@code local} along dim 0 in rank order: {@code [worldSize * B, ...]} from {@code [B,
   * ...]}. Every replica must pass the same shape and dtype. The result is a new tensor without autograd history.
   *
   * @throws IllegalArgumentException when {@code local} is null, undefined or a scalar
   * @throws IllegalStateException when the group is closed, or a peer fails or times out
   */
  Tensor allGather(Tensor local);

  /**
   * Combines every replica's {@code tensor} in place (the tensor must be contiguous and not require grad).
   *
   * @throws IllegalArgumentException when {@code tensor} is null, undefined or not contiguous, or AVG is asked of an
   *     integer tensor
   * @throws IllegalStateException when the group is closed, or a peer fails or times out
   */
  void allReduce(Tensor tensor, Reduction reduction);

  /**
   * Overwrites {@code tensor} in place with rank 0's values (contiguous, not requiring grad).
   *
   * @throws IllegalArgumentException when {@code tensor} is null, undefined or not contiguous
   * @throws IllegalStateException when the group is closed, or a peer fails or times out
   */
  void broadcast(Tensor tensor);

  /**
   * Returns once every replica has called it.
   *
   * @throws IllegalStateException when the group is closed, or a peer fails or times out
   */
  void barrier();

  /** Leaves the group; later calls throw IllegalStateException. Idempotent. */
  @Override
  void close();
}
