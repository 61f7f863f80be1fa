package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;

/**
 * A loss that can find outliers among labeled embeddings, as PML's {@code SubCenterArcFaceLoss.get_outliers}: used
 * to clean noisy data sets, and by the golden-case runner to check the cases that record {@code get_outliers}.
 */
public interface OutlierDetector {
  /**
   * PML's {@code get_outliers(embeddings, labels, threshold)}.
   *
   * @param embeddings {@code [N, D]} embeddings
   * @param labels {@code [N]} integer labels
   * @param thresholdDegrees the angle (degrees) from a class's dominant center beyond which a sample is an outlier
   * @return {@code [outliers, dominant_centers]}
   */
  Tensor[] getOutliers(Tensor embeddings, Tensor labels, double thresholdDegrees);
}
