/**
 * pml4j on Apache Flink (2.3, DataStream API): online metric learning on labeled streams.
 *
 * <ul>
 *   <li>Records (Flink POJOs, no Kryo): {@link org.pml4j.flink.LabeledVector}, {@link org.pml4j.flink.ModelUpdate},
 *       {@link org.pml4j.flink.Embedding}, {@link org.pml4j.flink.RejectedRecord}, {@link org.pml4j.flink.EvalResult}.
 *   <li>Replayable sources ({@link org.pml4j.flink.Sources}): seeded synthetic clusters, Fashion-MNIST IDX files,
 *       CSV / JSON-lines files, Kafka.
 *   <li>{@link org.pml4j.flink.ValidateFunction}: bad records to the side output "rejected", counted.
 *   <li>{@link org.pml4j.flink.TrainerOperator}: micro-batch training at parallelism 1 through a
 *       {@link org.pml4j.train.CheckpointableTrainer}, all state in checkpoints, ONNX model updates.
 *   <li>{@link org.pml4j.flink.ModelPublisherSink}: versioned ONNX files and manifest, atomically.
 *   <li>{@link org.pml4j.flink.EmbedOperator}: embeddings with the newest broadcast model (ONNX Runtime).
 *   <li>{@link org.pml4j.flink.RetrievalEvaluator}: precision_at_1 and MAP@R per model version (the metrics of
 *       {@code pml4j train/eval}); its scheduling policy is {@link org.pml4j.flink.EvalPolicy} (versions kept by
 *       {@link org.pml4j.flink.EvalQueue}, scored on an {@link org.pml4j.flink.EvalWorker} thread at a
 *       {@link org.pml4j.flink.BackgroundPriority}).
 *   <li>{@link org.pml4j.flink.Retrieval}: a versioned, exact retrieval index sharded by id that follows the model
 *       ({@link org.pml4j.flink.RetrievalShard}, {@link org.pml4j.flink.VersionedIndex},
 *       {@link org.pml4j.flink.AnswerMerger}); every answer in one model version.
 *   <li>{@link org.pml4j.flink.StreamingJob}: the job's entry points ({@code main}, {@code build}, {@code run}) and
 *       output names; {@link org.pml4j.flink.StreamJobConfig} (keys and defaults, read by
 *       {@link org.pml4j.flink.JobConfigReader}); {@link org.pml4j.flink.StreamTopology} (the dataflow, with
 *       {@link org.pml4j.flink.StreamInputs} and {@link org.pml4j.flink.ReportLines});
 *       {@link org.pml4j.flink.JobEnvironment} (Flink configuration); {@link org.pml4j.flink.EmbeddedRunner} (the
 *       MiniCluster with the Web UI); {@link org.pml4j.flink.StreamReport} (summary.json);
 *       {@link org.pml4j.flink.OutputDirectory} (the files written outside Flink's sinks).
 * </ul>
 *
 * <p>Threads: the trainer sets {@code TrainerConfig.threads} ATen/OpenBLAS threads on its task thread (default 1),
 * the evaluator 1, ONNX Runtime runs 1 intra-op thread per embed subtask; scale with parallelism. On a real Flink
 * cluster put the Bytedeco and ONNX Runtime jars in {@code lib/} with
 * {@code classloader.parent-first-patterns.additional: org.bytedeco.;ai.onnxruntime.} (see
 * {@link org.pml4j.flink.StreamingJob}).
 */
package org.pml4j.flink;
