package org.pml4j.train;

import org.bytedeco.pytorch.Tensor;

/**
 * PML's {@code trainers.MetricLossOnly}: embeddings = encoder(batch); tuples = miner(embeddings, labels) when a miner
 * is configured; loss = metric_loss(embeddings, labels, tuples); one optimizer step. With
 * {@code config.memorySize() > 0} the loss runs inside a {@link org.pml4j.losses.CrossBatchMemory} of that size (the
 * miner then mines against the memory). See {@link BaseTrainer} for construction, seeding and the snapshot.
 *
 * <pre>{@code
 * try (MetricLossTrainer t = new MetricLossTrainer(config)) {
 *   StepResult r = t.trainStep(rows, labels);
 *   byte[] checkpoint = t.snapshot();
 * }
 * }</pre>
 */
public final class MetricLossTrainer extends BaseTrainer {
  /**
   * @throws IllegalArgumentException (or {@link org.pml4j.spec.SpecException}) for a bad spec or combination
   */
  public MetricLossTrainer(TrainerConfig config) {
    super(config, plainLoss(config), null);
  }

  private static com.fasterxml.jackson.databind.JsonNode plainLoss(TrainerConfig config) {
    if (TrainWithClassifier.isWrapper(config.loss())) {
      throw new IllegalArgumentException("the loss spec is a TrainWithClassifier: build it with "
          + "Trainers.fromConfig or new TrainWithClassifier(config)");
    }
    return config.loss();
  }

  @Override
  protected Tensor computeLoss(Tensor embeddings, Tensor labels) {
    return metricLoss(embeddings, labels);
  }
}
