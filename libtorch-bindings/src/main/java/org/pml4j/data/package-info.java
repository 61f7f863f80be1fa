/**
 * The data layer: {@link org.pml4j.data.DataSource} (replayable, index-addressed labeled rows) and the registry
 * {@link org.pml4j.data.DataSources} of named sources ({@code fashion-mnist}: {@link org.pml4j.data.FashionMnist},
 * the one IDX reader, over {@link org.pml4j.data.Idx}; {@code synthetic}: {@link org.pml4j.data.SyntheticClusters},
 * the one synthetic model), and {@link org.pml4j.data.LabeledDataset}, rows in memory. {@code pml4j train} loads
 * sources into datasets; the Flink job adapts the same sources to generator sources. A new source is one
 * {@link org.pml4j.data.DataSourceProvider} listed in {@code META-INF/services}.
 */
package org.pml4j.data;
