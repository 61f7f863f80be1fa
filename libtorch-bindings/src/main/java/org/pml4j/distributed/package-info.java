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
 * <p>Layering: above losses, miners and tuples (it wraps them), below train (a trainer uses it).
 */
package org.pml4j.distributed;
