package org.pml4j.losses;

import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.DotProductSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code NormalizedSoftmaxLoss} (Zhai and Wu, 2018): cross-entropy over logits
 * {@code distance(x, normalize(W, dim=0)^T) / temperature} (negated for a non-inverted distance), with learnable class
 * weights {@code W} ({@code [embedding_size, num_classes]}, initialised with {@code normal_}). With the default
 * {@link DotProductSimilarity} (which normalizes the embeddings) the logits are cosine similarities over the
 * temperature. Per-sample losses are multiplied by the miner weights. Labels required (in
 * {@code [0, num_classes)}), no reference set; an optional {@code weight_regularizer} is applied to {@code W^T} (one
 * row per class).
 */
public class NormalizedSoftmaxLoss extends BaseWeightLoss {
  private final int numClasses;
  private final int embeddingSize;
  private final double temperature;

  /** PML's default {@code temperature}. */
  public static final double DEFAULT_TEMPERATURE = 0.05;

  /** PML's default: {@link #DEFAULT_TEMPERATURE}. */
  public NormalizedSoftmaxLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_TEMPERATURE, LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes
   * @param embeddingSize width of the embeddings
   * @param temperature divides the logits
   * @param options distance (default {@link DotProductSimilarity}), reducer (default MeanReducer), embedding and
   *     weight regularizers
   */
  public NormalizedSoftmaxLoss(int numClasses, int embeddingSize, double temperature, LossOptions options) {
    super(options);
    if (numClasses < 1 || embeddingSize < 1) {
      throw new IllegalArgumentException(
          "num_classes and embedding_size must be >= 1, got " + numClasses + " and " + embeddingSize);
    }
    this.numClasses = numClasses;
    this.embeddingSize = embeddingSize;
    this.temperature = temperature;
    registerParameter("W", torch.empty(embeddingSize, numClasses).normal_(0.0, 1.0, new GeneratorOptional()));
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new DotProductSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    checkLabelRange(labels, numClasses);
    ScalarType dtype = Tensors.dtype(embeddings);
    Tensor w = paramLike("W", embeddings);
    Tensor minerWeights = Lmu.convertToWeights(indicesTuple, labels, dtype, false);
    Tensor logits = logits(embeddings, w);
    Tensor unweighted = torch.cross_entropy_loss(logits, labels, new TensorOptional(), 0 /* none */, -100, 0.0);
    LossDict d = LossDict.of("loss",
        LossInfo.element(unweighted.mul(minerWeights), Tensors.arange(embeddings.size(0), embeddings)));
    addWeightRegularization(d, w.t());
    return d;
  }

  /** PML's {@code get_logits}: {@code distance(x, normalize(W, dim=0)^T) / temperature}, negated for distances. */
  public Tensor getLogits(Tensor embeddings) {
    return logits(embeddings, paramLike("W", embeddings));
  }

  private Tensor logits(Tensor embeddings, Tensor w) {
    Tensor normalizedW = distance.normalize(w, 0);
    Tensor logits = distance.forward(embeddings, normalizedW.t()).div(Tensors.s(temperature));
    return distance.isInverted() ? logits : logits.neg();
  }

  public int numClasses() {
    return numClasses;
  }

  public int embeddingSize() {
    return embeddingSize;
  }

  public double temperature() {
    return temperature;
  }

  /** Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code temperature}. */
  public static NormalizedSoftmaxLoss fromSpec(Params p) {
    return new NormalizedSoftmaxLoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getDouble("temperature", DEFAULT_TEMPERATURE), LossOptions.fromSpec(p, true));
  }
}
