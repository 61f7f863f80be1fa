package org.pml4j.accuracy;

import org.bytedeco.pytorch.Tensor;

/**
 * PML's {@code knn_func} contract: {@code knn_func(query, k, reference, ref_includes_query)} returning the {@code k}
 * nearest reference rows of every query row, closest first. When {@code refIncludesQuery} is true the reference starts
 * with the query rows, and each query's own row is removed from its neighbours (so {@code k} neighbours remain).
 */
@FunctionalInterface
public interface KnnFunction {
  /**
   * @param query {@code [Q, D]} query rows
   * @param k number of neighbours to return per query
   * @param reference {@code [R, D]} reference rows
   * @param refIncludesQuery whether {@code reference[i]} is {@code query[i]} for {@code i < Q}
   * @return {@code [Q, k]} distances and int64 indices into the reference
   */
  KnnResult search(Tensor query, long k, Tensor reference, boolean refIncludesQuery);
}
