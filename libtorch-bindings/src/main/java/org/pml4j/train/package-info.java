/**
 * Training: optimizers, trainers and checkpoints.
 *
 * <ul>
 *   <li>{@link org.pml4j.train.SGD}, {@link org.pml4j.train.Adam}, {@link org.pml4j.train.AdamW}: optimizer specs
 *       ({@code {"class": "Adam", "params": {"lr": 1e-3}}}) on LibTorch's optimizers, with the loss's learnable
 *       parameters in a second group at {@code loss_lr};</li>
 *   <li>{@link org.pml4j.train.MetricLossTrainer} (PML's MetricLossOnly) and
 *       {@link org.pml4j.train.TrainWithClassifier}, both {@link org.pml4j.train.CheckpointableTrainer}s built from a
 *       {@link org.pml4j.train.TrainerConfig} by {@link org.pml4j.train.Trainers#fromConfig};</li>
 *   <li>snapshots that restore bit-identically (see {@link org.pml4j.train.BaseTrainer}) and
 *       {@link org.pml4j.train.Checkpoints} to write them atomically;</li>
 *   <li>{@link org.pml4j.train.TrainingEngine}: the one training loop of {@code pml4j train}, {@code pml4j bench}
 *       and the Flink trainer operator (batching, step accounting, publish policy, non-finite steps, snapshot and
 *       restore as an {@link org.pml4j.train.EngineState}, written with a format version by
 *       {@link org.pml4j.train.EngineStateCodec});</li>
 *   <li>the epoch loop ({@link org.pml4j.train.Epochs}), test-split retrieval accuracy
 *       ({@link org.pml4j.train.RetrievalEval}) and per-phase step timing ({@link org.pml4j.train.StepPhases}) shared
 *       by {@code pml4j train}, {@code eval} and {@code bench}.</li>
 * </ul>
 */
package org.pml4j.train;
