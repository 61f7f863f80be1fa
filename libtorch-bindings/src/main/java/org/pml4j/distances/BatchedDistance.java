package org.pml4j.distances;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code BatchedDistance}: computes the matrix in chunks of {@code batchSize} query rows and hands each chunk to
 * a callback {@code iterFn(mat, s, e)} instead of materializing the whole matrix.
 */
public class BatchedDistance {
  /** Receives the {@code [e - s, Nr]} block for query rows {@code [s, e)}. */
  @FunctionalInterface
  public interface IterFn {
    void accept(Tensor mat, long s, long e);
  }

  /** PML's default {@code batch_size}: query rows per block. */
  public static final int DEFAULT_BATCH_SIZE = 32;

  private final BaseDistance distance;
  private final IterFn iterFn;
  private final int batchSize;

  public BatchedDistance(BaseDistance distance, IterFn iterFn) {
    this(distance, iterFn, DEFAULT_BATCH_SIZE);
  }

  public BatchedDistance(BaseDistance distance, IterFn iterFn, int batchSize) {
    if (distance == null) {
      throw new IllegalArgumentException("distance must not be null");
    }
    this.distance = distance;
    this.iterFn = iterFn;
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch_size must be >= 1, got " + batchSize);
    }
    this.batchSize = batchSize;
  }

  /** Calls {@link #forward(Tensor, Tensor, IterFn)} with the callback given at construction. */
  public void forward(Tensor queryEmb, Tensor refEmb) {
    forward(queryEmb, refEmb, iterFn);
  }

  /** Streams the matrix of {@code queryEmb} vs {@code refEmb} (null: the query) to {@code fn} in row chunks. */
  public void forward(Tensor queryEmb, Tensor refEmb, IterFn fn) {
    if (fn == null) {
      throw new IllegalStateException("BatchedDistance needs an iter_fn callback");
    }
    Tensors.requireFloatMatrix(queryEmb, "query_emb");
    Tensor ref = refEmb != null ? refEmb : queryEmb;
    long n = queryEmb.size(0);
    for (long s = 0; s < n; s += batchSize) {
      long e = s + batchSize;
      Tensor chunk = queryEmb.narrow(0, s, Math.min(e, n) - s);
      fn.accept(distance.forward(chunk, ref), s, Math.min(e, n));
    }
  }

  public BaseDistance distance() {
    return distance;
  }

  public int batchSize() {
    return batchSize;
  }


  /** Registry factory: {@code distance} (spec), {@code batch_size}; the callback is given to {@code forward}. */
  public static BatchedDistance fromSpec(Params p) {
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    if (d == null) {
      throw new IllegalArgumentException("BatchedDistance needs a distance");
    }
    return new BatchedDistance(d, null, p.getInt("batch_size", DEFAULT_BATCH_SIZE));
  }
}
