package org.pml4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.nn.Linear;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code trainers.TrainWithClassifier}: embeddings = encoder(batch); logits = classifier(embeddings) with a
 * linear classifier {@code Linear(embedding_size, num_classes)}; the total loss is
 * {@code loss_weights["metric_loss"] * metric_loss + loss_weights["classifier_loss"] * cross_entropy(logits, labels)}
 * (PML's {@code loss_weights}, both 1 by default). The metric loss is as in {@link MetricLossTrainer} (miner, optional
 * CrossBatchMemory); the classifier's parameters are trained in the encoder's parameter group and are part of the
 * snapshot ({@code head} section). Labels must lie in {@code [0, num_classes)}.
 *
 * <p>As a config, the loss spec wraps the metric loss (this is what {@link Trainers#fromConfig} recognises):
 *
 * <pre>{@code
 * {"class": "TrainWithClassifier", "params": {
 *    "metric_loss": {"class": "TripletMarginLoss"}, "num_classes": 10,
 *    "loss_weights": {"metric_loss": 1.0, "classifier_loss": 0.5}}}
 * }</pre>
 */
public final class TrainWithClassifier extends BaseTrainer {
  private final int numClasses;
  private final double metricLossWeight;
  private final double classifierLossWeight;

  /**
   * @param config the configuration, whose loss spec is the {@code TrainWithClassifier} wrapper above
   * @throws IllegalArgumentException for a bad spec, fewer than 2 classes or negative weights
   */
  public TrainWithClassifier(TrainerConfig config) {
    this(config, Options.of(config.loss()));
  }

  /**
   * @param config the configuration with a plain metric loss spec (null: TripletMarginLoss)
   * @param numClasses classifier outputs (labels must lie in {@code [0, numClasses)})
   * @param metricLossWeight PML's {@code loss_weights["metric_loss"]}
   * @param classifierLossWeight PML's {@code loss_weights["classifier_loss"]}
   */
  public TrainWithClassifier(TrainerConfig config, int numClasses, double metricLossWeight,
      double classifierLossWeight) {
    this(wrap(config, new Options(numClasses, metricLossWeight, classifierLossWeight)),
        new Options(numClasses, metricLossWeight, classifierLossWeight));
  }

  private TrainWithClassifier(TrainerConfig wrapped, Options o) {
    super(wrapped, wrapped.loss().path("params").get("metric_loss"), e -> new Linear(e, o.numClasses()));
    this.numClasses = o.numClasses();
    this.metricLossWeight = o.metricLossWeight();
    this.classifierLossWeight = o.classifierLossWeight();
  }

  /** The classifier's settings. */
  record Options(int numClasses, double metricLossWeight, double classifierLossWeight) {
    Options {
      if (numClasses < 2) {
        throw new IllegalArgumentException("TrainWithClassifier needs num_classes >= 2, got " + numClasses);
      }
      if (!(metricLossWeight >= 0) || !(classifierLossWeight >= 0) || Double.isInfinite(metricLossWeight)
          || Double.isInfinite(classifierLossWeight)) {
        throw new IllegalArgumentException("loss_weights must be finite and >= 0, got metric_loss="
            + metricLossWeight + ", classifier_loss=" + classifierLossWeight);
      }
    }

    static Options of(JsonNode wrapper) {
      if (!isWrapper(wrapper)) {
        throw new IllegalArgumentException("TrainWithClassifier(config) needs a loss spec {\"class\": "
            + "\"TrainWithClassifier\", \"params\": {\"metric_loss\", \"num_classes\", \"loss_weights\"}}");
      }
      JsonNode p = wrapper.path("params");
      p.fieldNames().forEachRemaining(f -> {
        if (!f.equals("metric_loss") && !f.equals("num_classes") && !f.equals("loss_weights")) {
          throw new IllegalArgumentException("TrainWithClassifier: unknown parameter '" + f
              + "'; valid parameters are [metric_loss, num_classes, loss_weights]");
        }
      });
      if (!p.path("num_classes").canConvertToInt()) {
        throw new IllegalArgumentException("TrainWithClassifier needs an integer num_classes");
      }
      JsonNode w = p.path("loss_weights");
      w.fieldNames().forEachRemaining(f -> {
        if (!f.equals("metric_loss") && !f.equals("classifier_loss")) {
          throw new IllegalArgumentException("TrainWithClassifier: unknown loss_weights key '" + f
              + "'; valid keys are [metric_loss, classifier_loss]");
        }
      });
      return new Options(p.path("num_classes").asInt(), w.path("metric_loss").asDouble(1.0),
          w.path("classifier_loss").asDouble(1.0));
    }

    /** The wrapper spec around a plain metric loss spec. */
    ObjectNode wrapper(JsonNode metricLoss) {
      ObjectNode n = Trainers.JSON.createObjectNode();
      n.put("class", "TrainWithClassifier");
      ObjectNode p = n.putObject("params");
      p.set("metric_loss", Trainers.lossSpecOrDefault(metricLoss));
      p.put("num_classes", numClasses);
      ObjectNode w = p.putObject("loss_weights");
      w.put("metric_loss", metricLossWeight);
      w.put("classifier_loss", classifierLossWeight);
      return n;
    }
  }

  static boolean isWrapper(JsonNode loss) {
    return loss != null && loss.isObject() && "TrainWithClassifier".equals(loss.path("class").asText());
  }

  private static TrainerConfig wrap(TrainerConfig c, Options o) {
    if (isWrapper(c.loss())) {
      throw new IllegalArgumentException("the config's loss is already a TrainWithClassifier spec; use "
          + "TrainWithClassifier(config)");
    }
    return Trainers.withLoss(c, o.wrapper(c.loss()));
  }

  @Override
  protected void checkLabels(long[] labels) {
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= numClasses) {
        throw new IllegalArgumentException("label " + labels[i] + " at row " + i + " is outside [0, " + numClasses
            + ") (num_classes of the classifier)");
      }
    }
  }

  @Override
  protected Tensor computeLoss(Tensor embeddings, Tensor labels) {
    Tensor metric = metricLoss(embeddings, labels);
    Tensor logits = head.forward(embeddings);
    Tensor classifier = torch.cross_entropy_loss(logits, labels);
    return metric.mul(Tensors.s(metricLossWeight)).add(classifier.mul(Tensors.s(classifierLossWeight)));
  }

  /** The classifier {@code Linear(embedding_size, num_classes)}. */
  public Linear classifier() {
    return (Linear) head;
  }

  public int numClasses() {
    return numClasses;
  }

  public double metricLossWeight() {
    return metricLossWeight;
  }

  public double classifierLossWeight() {
    return classifierLossWeight;
  }
}
