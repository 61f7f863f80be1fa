/**
 * Data-parallel training on LibTorch's c10d collectives (issue 13, the Flink-free core).
 *
 * <p>{@link org.pml4j.distributed.Collective} is the small set of collectives the rest needs (all-gather along dim 0,
 * all-reduce, broadcast from rank 0, barrier); {@link org.pml4j.distributed.GlooCollective} implements it on a c10d
 * {@code ProcessGroupGloo} (CPU) rendezvousing through a {@code TCPStore}, {@link
 * org.pml4j.distributed.SingleProcessCollective} is world size 1. On top of it: PML's {@link
 * org.pml4j.distributed.DistributedLossWrapper} and {@link org.pml4j.distributed.DistributedMinerWrapper}, and {@link
 * org.pml4j.distributed.GradientAverager}, which averages parameter gradients in buckets and broadcasts parameters from
 * rank 0, so that every replica steps its optimizer identically.
 *
 * <p>Every collective of a c10d group first all-gathers a fixed-size descriptor (collective, dtype, shape), so that
 * ranks that disagree get the same IllegalArgumentException instead of Gloo aborting the process; it costs one small
 * extra round trip per collective. A lost or silent peer fails the collective with an IllegalStateException after the
 * {@link org.pml4j.distributed.Rendezvous#timeout()}.
 *
 * <p>Not here (the Flink part of issue 13): choosing the trainer's parallelism, publishing rank 0's store address to
 * the subtasks, one prefix per restart attempt, lockstep global batches at checkpoint barriers, rank-0-only
 * publishing, overlap of the all-reduce with backward.
 *
 * <p>Layering: above losses, miners and tuples (it wraps them), below train (a trainer uses it).
 */
package org.pml4j.distributed;
