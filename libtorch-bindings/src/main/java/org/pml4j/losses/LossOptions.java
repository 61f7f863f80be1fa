package org.pml4j.losses;

import org.pml4j.distances.BaseDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.regularizers.BaseRegularizer;
import org.pml4j.spec.Params;

/**
 * The keyword arguments every PML loss accepts: {@code distance}, {@code reducer}, {@code embedding_regularizer},
 * {@code embedding_reg_weight}, and for losses with a learnable weight {@code weight_regularizer},
 * {@code weight_reg_weight}. Null means PML's default for that loss. Immutable; the {@code with*} methods return
 * copies.
 *
 * <pre>{@code
 * new TripletMarginLoss(0.1, LossOptions.defaults().withDistance(new CosineSimilarity()))
 * }</pre>
 */
public final class LossOptions {
  /** PML's default {@code embedding_reg_weight}. */
  public static final double DEFAULT_EMBEDDING_REG_WEIGHT = 1.0;
  /** PML's default {@code weight_reg_weight}. */
  public static final double DEFAULT_WEIGHT_REG_WEIGHT = 1.0;

  private static final LossOptions DEFAULTS = new LossOptions(null, null, null, DEFAULT_EMBEDDING_REG_WEIGHT, null,
      DEFAULT_WEIGHT_REG_WEIGHT);

  private final BaseDistance distance;
  private final BaseReducer reducer;
  private final BaseRegularizer embeddingRegularizer;
  private final double embeddingRegWeight;
  private final BaseRegularizer weightRegularizer;
  private final double weightRegWeight;

  private LossOptions(BaseDistance distance, BaseReducer reducer, BaseRegularizer embeddingRegularizer,
      double embeddingRegWeight, BaseRegularizer weightRegularizer, double weightRegWeight) {
    this.distance = distance;
    this.reducer = reducer;
    this.embeddingRegularizer = embeddingRegularizer;
    this.embeddingRegWeight = embeddingRegWeight;
    this.weightRegularizer = weightRegularizer;
    this.weightRegWeight = weightRegWeight;
  }

  /** Every option at PML's default. */
  public static LossOptions defaults() {
    return DEFAULTS;
  }

  /**
   * The common loss keyword arguments of a spec's {@code params}: {@code distance}, {@code reducer},
   * {@code embedding_regularizer}, {@code embedding_reg_weight}, {@code collect_stats} (accepted, no effect), and when
   * {@code withWeights} {@code weight_regularizer}, {@code weight_reg_weight}. Lives here, not in {@code Params}, so
   * the spec package does not depend on the component packages.
   */
  public static LossOptions fromSpec(Params p, boolean withWeights) {
    LossOptions o = defaults()
        .withDistance(p.getComponent("distance", BaseDistance.class))
        .withReducer(p.getComponent("reducer", BaseReducer.class))
        .withEmbeddingRegularizer(p.getComponent("embedding_regularizer", BaseRegularizer.class))
        .withEmbeddingRegWeight(p.getDouble("embedding_reg_weight", DEFAULT_EMBEDDING_REG_WEIGHT));
    p.collectStats();
    if (withWeights) {
      o = o.withWeightRegularizer(p.getComponent("weight_regularizer", BaseRegularizer.class))
          .withWeightRegWeight(p.getDouble("weight_reg_weight", DEFAULT_WEIGHT_REG_WEIGHT));
    }
    return o;
  }

  public LossOptions withDistance(BaseDistance d) {
    return new LossOptions(d, reducer, embeddingRegularizer, embeddingRegWeight, weightRegularizer, weightRegWeight);
  }

  public LossOptions withReducer(BaseReducer r) {
    return new LossOptions(distance, r, embeddingRegularizer, embeddingRegWeight, weightRegularizer, weightRegWeight);
  }

  public LossOptions withEmbeddingRegularizer(BaseRegularizer reg) {
    return new LossOptions(distance, reducer, reg, embeddingRegWeight, weightRegularizer, weightRegWeight);
  }

  public LossOptions withEmbeddingRegWeight(double w) {
    return new LossOptions(distance, reducer, embeddingRegularizer, w, weightRegularizer, weightRegWeight);
  }

  public LossOptions withWeightRegularizer(BaseRegularizer reg) {
    return new LossOptions(distance, reducer, embeddingRegularizer, embeddingRegWeight, reg, weightRegWeight);
  }

  public LossOptions withWeightRegWeight(double w) {
    return new LossOptions(distance, reducer, embeddingRegularizer, embeddingRegWeight, weightRegularizer, w);
  }

  public BaseDistance distance() {
    return distance;
  }

  public BaseReducer reducer() {
    return reducer;
  }

  public BaseRegularizer embeddingRegularizer() {
    return embeddingRegularizer;
  }

  public double embeddingRegWeight() {
    return embeddingRegWeight;
  }

  public BaseRegularizer weightRegularizer() {
    return weightRegularizer;
  }

  public double weightRegWeight() {
    return weightRegWeight;
  }
}
