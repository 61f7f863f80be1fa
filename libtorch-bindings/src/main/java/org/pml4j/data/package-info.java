/**
 * Datasets in memory: {@link org.pml4j.data.FashionMnist} (IDX files of the Debian package
 * {@code dataset-fashion-mnist}), {@link org.pml4j.data.SyntheticClusters} (seeded Gaussian clusters), both as
 * {@link org.pml4j.data.LabeledDataset} rows and labels.
 */
package org.pml4j.data;
