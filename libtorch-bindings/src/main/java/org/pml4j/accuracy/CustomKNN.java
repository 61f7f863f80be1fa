package org.pml4j.accuracy;

import java.util.Objects;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code CustomKNN(distance, batch_size=None)}: exact brute-force k-nearest neighbours on LibTorch, the
 * faiss-free {@link KnnFunction}. The {@code [Q, R]} matrix of the distance is searched with
 * {@code torch.topk(largest=distance.is_inverted)}, so similarities return the largest values first and distances the
 * smallest. With a {@code batchSize} the matrix is computed and searched in chunks of {@code batchSize} query rows (as
 * PML does through {@code BatchedDistance}), so only a {@code [batchSize, R]} block is alive at a time.
 *
 * <p>When the reference includes the query, {@code k + 1} neighbours are searched and each row's own index
 * ({@code indices[i] == i}) is removed; a row whose own index is not among them loses its last neighbour instead, as
 * in PML's {@code return_results}.
 */
public final class CustomKNN implements KnnFunction {
  private final BaseDistance distance;
  private final Integer batchSize;

  /** {@code CustomKNN(distance)}: the whole matrix at once. */
  public CustomKNN(BaseDistance distance) {
    this(distance, null);
  }

  /**
   * @param distance the distance or similarity that ranks the neighbours
   * @param batchSize query rows per chunk, or null for the whole matrix at once
   */
  public CustomKNN(BaseDistance distance, Integer batchSize) {
    this.distance = Objects.requireNonNull(distance, "distance");
    if (batchSize != null && batchSize < 1) {
      throw new IllegalArgumentException("batch_size must be a positive integer or None, got " + batchSize);
    }
    this.batchSize = batchSize;
  }

  /**
   * The {@code k} nearest reference rows of each query row (see {@link KnnFunction#search}). The inputs are used as
   * given (no dtype change) and without gradient; a null reference means the query itself.
   *
   * @throws IllegalArgumentException if {@code k} (plus one when the reference includes the query) is negative or
   *     exceeds the number of reference rows
   */
  @Override
  public KnnResult search(Tensor query, long k, Tensor reference, boolean refIncludesQuery) {
    Tensor q = query.detach();
    Tensor r = reference == null ? q : reference.detach();
    long searched = refIncludesQuery ? k + 1 : k;
    long nRef = r.size(0);
    if (k < 0 || searched > nRef) {
      throw new IllegalArgumentException("k=" + k + (refIncludesQuery ? " (plus the query itself)" : "")
          + " neighbours requested but the reference has only " + nRef + " rows");
    }
    boolean largest = distance.isInverted();
    Tensor dists;
    Tensor idx;
    if (batchSize == null) {
      Tensor mat = distance.forward(q, r);
      T_TensorTensor_T top = torch.topk(mat, searched, 1, largest, true);
      dists = top.get0();
      idx = top.get1();
    } else {
      long n = q.size(0);
      dists = Tensors.zeros(q, n, searched);
      idx = Tensors.zeros(ScalarType.Long, q, n, searched);
      for (long s = 0; s < n; s += batchSize) {
        long e = Math.min(s + batchSize, n);
        try (Scope chunk = Scope.open()) {
          Tensor mat = distance.forward(q.narrow(0, s, e - s), r);
          T_TensorTensor_T top = torch.topk(mat, searched, 1, largest, true);
          dists.narrow(0, s, e - s).copy_(top.get0());
          idx.narrow(0, s, e - s).copy_(top.get1());
        }
      }
    }
    return refIncludesQuery ? removeSelf(dists, idx) : new KnnResult(dists, idx);
  }

  /** PML's {@code return_results}: drops each row's own index, or its last column when the row lacks it. */
  static KnnResult removeSelf(Tensor dists, Tensor idx) {
    long n = idx.size(0);
    long cols = idx.size(1);
    Tensor self = Tensors.arange(n, idx).unsqueeze(1);
    Tensor matches = idx.eq(self);
    Tensor rowHasMatch = matches.any(1);
    if (n > 0 && cols > 0) {
      // Rows without their own index lose their last neighbour instead.
      matches.select(1, cols - 1).logical_or_(rowHasMatch.logical_not());
    }
    Tensor keep = matches.logical_not();
    return new KnnResult(Tensors.index(dists, keep).view(n, cols - 1), Tensors.index(idx, keep).view(n, cols - 1));
  }

  /** The distance ranking the neighbours. */
  public BaseDistance distance() {
    return distance;
  }

  /** Query rows per chunk, or null for the whole matrix at once. */
  public Integer batchSize() {
    return batchSize;
  }

  @Override
  public String toString() {
    return "CustomKNN(distance=" + distance + ", batchSize=" + batchSize + ")";
  }

  /** Registry factory: {@code distance} (a distance spec, required) and {@code batch_size} (optional). */
  public static CustomKNN fromSpec(Params p) {
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    if (d == null) {
      throw new IllegalArgumentException("CustomKNN needs a distance");
    }
    return new CustomKNN(d, p.getIntOrNull("batch_size"));
  }
}
