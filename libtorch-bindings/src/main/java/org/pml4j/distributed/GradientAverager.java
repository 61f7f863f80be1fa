package org.pml4j.distributed;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Tensors;

/**
 * Keeps the replicas of a model in lockstep: {@link #broadcastParameters()} copies rank 0's parameters to every rank
 * (at the start and after a restore), {@link #averageGradients()} replaces every gradient with its mean over the ranks
 * (after {@code backward}, before the optimizer step). After both, every replica's optimizer steps from the same
 * parameters with the same gradients, so the replicas stay bit-identical.
 *
 * <p>The parameters are packed, in the given order, into buckets of one dtype and device of at most {@code
 * bucketBytes} each (one parameter larger than that gets a bucket of its own); each bucket is flattened into one
 * tensor and moved with one all-reduce (or broadcast), which beats one collective per parameter for the many small
 * tensors of an MLP. A parameter whose gradient is undefined on this rank (unused in this step) contributes zeros and
 * receives the mean, as a defined gradient.
 *
 * <p>Include the loss's parameters (ArcFace's W, ...) when it has any: they are trained data-parallel too.
 */
public final class GradientAverager implements AutoCloseable {
  /** The default bucket size: 25 MiB, as PyTorch DDP's {@code bucket_cap_mb}. */
  public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

  private final Collective collective;
  private final List<List<Tensor>> buckets = new ArrayList<>();
  /** The averager's handles of the parameters (they live as long as it does). */
  private final Owner natives = new Owner();
  private long lastAllReduceNanos;
  private long bytesPerStep;

  /** Averages {@code parameters} in buckets of {@link #DEFAULT_BUCKET_BYTES}. */
  public GradientAverager(Collective collective, List<Tensor> parameters) {
    this(collective, parameters, DEFAULT_BUCKET_BYTES);
  }

  /**
   * Averages {@code parameters} in buckets of at most {@code bucketBytes}.
   *
   * @throws IllegalArgumentException when {@code collective} is null, {@code parameters} is null, empty or holds an
   *     undefined tensor, or {@code bucketBytes} is not positive
   */
  public GradientAverager(Collective collective, List<Tensor> parameters, long bucketBytes) {
    this(collective, parameters, bucketBytes, true);
  }

  /**
   * Buckets of any dtype, for {@link #broadcastParameters} alone: a model's buffers (BatchNorm's running statistics
   * and its int64 batch count), which are copied from rank 0, never averaged.
   */
  static GradientAverager forBroadcast(Collective collective, List<Tensor> tensors) {
    return new GradientAverager(collective, tensors, DEFAULT_BUCKET_BYTES, false);
  }

  private GradientAverager(Collective collective, List<Tensor> parameters, long bucketBytes, boolean floatingOnly) {
    if (collective == null) {
      throw new IllegalArgumentException("collective must not be null");
    }
    if (parameters == null || parameters.isEmpty()) {
      throw new IllegalArgumentException("parameters must not be empty");
    }
    if (bucketBytes <= 0) {
      throw new IllegalArgumentException("bucketBytes must be positive, got " + bucketBytes);
    }
    this.collective = collective;
    List<Tensor> current = new ArrayList<>();
    long currentBytes = 0;
    for (int i = 0; i < parameters.size(); i++) {
      Tensor p = parameters.get(i);
      if (p == null || p.isNull() || !p.defined()) {
        throw new IllegalArgumentException("parameters[" + i + "] is " + (p == null ? "null" : "undefined"));
      }
      if (floatingOnly && !Tensors.isFloating(Tensors.dtype(p))) {
        throw new IllegalArgumentException("parameters[" + i + "] must be floating, got " + Tensors.dtype(p));
      }
      // An owned handle on the same TensorImpl: the caller's handle may point into a temporary (a parameter dict).
      p = natives.own(new Tensor(p));
      long bytes = p.numel() * p.element_size();
      bytesPerStep += bytes;
      boolean compatible = current.isEmpty() || (Tensors.dtype(current.get(0)) == Tensors.dtype(p)
          && current.get(0).device().str().getString().equals(p.device().str().getString()));
      if (!current.isEmpty() && (!compatible || currentBytes + bytes > bucketBytes)) {
        buckets.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
      current.add(p);
      currentBytes += bytes;
    }
    buckets.add(current);
  }

  /** The number of buckets (collectives per call). */
  public int bucketCount() {
    return buckets.size();
  }

  /** Bytes of parameters (and so of gradients) each call moves into the all-reduce. */
  public long bytesPerStep() {
    return bytesPerStep;
  }

  /** Wall time of the all-reduces of the last {@link #averageGradients()} call, in nanoseconds. */
  public long lastAllReduceNanos() {
    return lastAllReduceNanos;
  }

  /**
   * Overwrites every parameter with rank 0's values, in place.
   *
   * @throws IllegalStateException when a collective fails or times out
   */
  public void broadcastParameters() {
    broadcast(false);
  }

  /** {@link #broadcastParameters()} inside {@link DataParallelSync}'s step: without the per-call shape agreement. */
  void broadcastParametersAgreed() {
    broadcast(true);
  }

  private void broadcast(boolean agreed) {
    if (collective.worldSize() <= 1) {
      return;
    }
    try (NoGradGuard g = new NoGradGuard()) {
      for (List<Tensor> bucket : buckets) {
        Tensor flat = flatten(bucket, false);
        if (agreed) {
          Agreed.broadcast(collective, flat);
        } else {
          collective.broadcast(flat);
        }
        unflatten(flat, bucket, false);
      }
    }
  }

  /**
   * Replaces every parameter's gradient with its mean over the ranks.
   *
   * @throws IllegalStateException when a collective fails or times out
   */
  public void averageGradients() {
    average(false, true);
  }

  /**
   * {@link #averageGradients()} for {@link DataParallelSync}'s step: the all-reduces skip the per-call shape agreement
   * (the buckets' shapes were agreed by the checked {@link #broadcastParameters()} when the replicas attached) and the
   * first bucket carries one more element, this rank's "loss not finite" flag, so that one collective both averages
   * the gradients and tells whether the loss was finite on every rank.
   *
   * @return whether {@code localLossFinite} was true on every rank
   */
  boolean averageGradientsAgreed(boolean localLossFinite) {
    return average(true, localLossFinite);
  }

  private boolean average(boolean agreed, boolean localLossFinite) {
    if (collective.worldSize() <= 1) {
      lastAllReduceNanos = 0;
      return localLossFinite;
    }
    long nanos = 0;
    boolean allFinite = true;
    try (NoGradGuard g = new NoGradGuard()) {
      for (int i = 0; i < buckets.size(); i++) {
        List<Tensor> bucket = buckets.get(i);
        Tensor flat = flatten(bucket, true);
        boolean flagged = agreed && i == 0;
        if (flagged) {
          Tensor flag = Tensors.zeros(flat, 1);
          if (!localLossFinite) {
            flag.fill_(Tensors.s(1.0));
          }
          flat = Tensors.cat(0, flat, flag);
        }
        long t0 = System.nanoTime();
        if (agreed) {
          Agreed.allReduce(collective, flat, Collective.Reduction.SUM);
        } else {
          collective.allReduce(flat, Collective.Reduction.SUM);
        }
        nanos += System.nanoTime() - t0;
        if (flagged) {
          allFinite = flat.narrow(0, flat.size(0) - 1, 1).item_double() == 0;
        }
        flat.div_(Tensors.s((double) collective.worldSize()));
        unflatten(flat, bucket, true);
      }
    }
    lastAllReduceNanos = nanos;
    return allFinite;
  }

  private static Tensor flatten(List<Tensor> bucket, boolean grads) {
    Tensor[] parts = new Tensor[bucket.size()];
    for (int i = 0; i < parts.length; i++) {
      Tensor p = bucket.get(i);
      Tensor src = grads ? gradOrZeros(p) : p.detach();
      parts[i] = src.reshape(-1);
    }
    return Tensors.cat(0, parts).contiguous();
  }

  private static Tensor gradOrZeros(Tensor p) {
    Tensor g = p.grad();
    return g.defined() ? g : Tensors.zeros(p, Tensors.shape(p));
  }

  private static void unflatten(Tensor flat, List<Tensor> bucket, boolean grads) {
    long offset = 0;
    for (Tensor p : bucket) {
      long n = p.numel();
      Tensor slice = flat.narrow(0, offset, n).view_as(p);
      offset += n;
      if (!grads) {
        p.detach().copy_(slice);
      } else {
        Tensor g = p.grad();
        if (g.defined()) {
          g.copy_(slice);
        } else {
          p.mutable_grad().put(slice.clone());
        }
      }
    }
  }

  @Override
  public String toString() {
    return "GradientAverager{" + buckets.size() + " buckets, " + bytesPerStep + " bytes, " + collective + "}";
  }

  /**
   * Frees the averager's handles of its tensors (not the tensors themselves, which their modules own); the averager
   * cannot be used afterwards. Idempotent.
   */
  @Override
  public void close() {
    natives.close();
  }
}
