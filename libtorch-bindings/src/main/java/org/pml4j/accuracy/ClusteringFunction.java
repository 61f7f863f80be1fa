package org.pml4j.accuracy;

import org.bytedeco.pytorch.Tensor;

/** PML's {@code kmeans_func} contract: {@code kmeans_func(x, num_clusters)} → one cluster id per row of {@code x}. */
@FunctionalInterface
public interface ClusteringFunction {
  /**
   * @param x {@code [N, D]} rows to cluster
   * @param numClusters number of clusters wanted
   * @return a cluster id per row
   */
  long[] cluster(Tensor x, int numClusters);
}
