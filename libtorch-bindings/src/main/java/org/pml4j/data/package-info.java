/**
 * The data layer: {@link org.pml4j.data.DataSource} (replayable, index-addressed labeled rows) and the registry
 * {@link org.pml4j.data.DataSources} of named sources ({@code fashion-mnist}: {@link org.pml4j.data.FashionMnist},
 * the one IDX reader, over {@link org.pml4j.data.Idx}; {@code synthetic}: {@link org.pml4j.data.SyntheticClusters},
 * the one synthetic model; {@code csv} and {@code jsonl}: {@link org.pml4j.data.RecordFile}), and
 * {@link org.pml4j.data.LabeledDataset}, rows in memory. Text records have one parser,
 * {@link org.pml4j.data.RecordParser} (a line to a {@link org.pml4j.data.ParsedRecord}), one file reader,
 * {@link org.pml4j.data.RecordReader} (byte-order mark, header, line numbers), and one validation rule with its
 * reason codes, {@link org.pml4j.data.Rejection}. {@code pml4j train} loads sources into datasets; the Flink job
 * adapts the same sources and the same parser to its sources. A new source is one
 * {@link org.pml4j.data.DataSourceProvider} listed in {@code META-INF/services}.
 */
package org.pml4j.data;
