package org.pml4j.losses;

import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code SoftTripleLoss} (Qian et al., 2019). Each class has {@code centers_per_class} learnable centers, the
 * columns of {@code fc} ({@code [embedding_size, num_classes * centers_per_class]}, class-major, initialised with
 * {@code kaiming_uniform_(a = sqrt 5)}). The similarity to a class is the softmax-weighted similarity to its centers,
 * {@code S_c = sum_k softmax_k(s_ck / gamma) * s_ck}, and the loss is the cross-entropy of
 * {@code la * (S - margin * onehot(y))}, multiplied by the miner weights. The distance must be a similarity (default
 * {@link CosineSimilarity}). Labels required (in {@code [0, num_classes)}), no reference set. The paper's center
 * regularizer is {@code weight_regularizer = SparseCentersRegularizer(num_classes, centers_per_class)}; the weight
 * regularizer receives {@code fc^T} (one row per center).
 */
public class SoftTripleLoss extends BaseWeightLoss {
  private final int numClasses;
  private final int embeddingSize;
  private final int centersPerClass;
  private final double la;
  private final double gamma;
  private final double margin;

  /** PML's default {@code centers_per_class}. */
  public static final int DEFAULT_CENTERS_PER_CLASS = 10;
  /** PML's default {@code la}: the logit scale. */
  public static final double DEFAULT_LA = 20;
  /** PML's default {@code gamma}: the softmax temperature over a class's centers. */
  public static final double DEFAULT_GAMMA = 0.1;
  /** PML's default {@code margin}. */
  public static final double DEFAULT_MARGIN = 0.01;

  /**
   * PML's defaults: {@link #DEFAULT_CENTERS_PER_CLASS}, {@link #DEFAULT_LA}, {@link #DEFAULT_GAMMA},
   * {@link #DEFAULT_MARGIN}.
   */
  public SoftTripleLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_CENTERS_PER_CLASS, DEFAULT_LA, DEFAULT_GAMMA, DEFAULT_MARGIN,
        LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes
   * @param embeddingSize width of the embeddings
   * @param centersPerClass centers per class
   * @param la scale of the logits ({@code lambda})
   * @param gamma softmax temperature over a class's centers (PML stores {@code 1 / gamma})
   * @param margin subtracted from the true class's similarity ({@code delta})
   * @param options distance (default {@link CosineSimilarity}; must be inverted), reducer (default MeanReducer),
   *     embedding and weight regularizers
   * @throws IllegalArgumentException if the distance is not a similarity
   */
  public SoftTripleLoss(int numClasses, int embeddingSize, int centersPerClass, double la, double gamma, double margin,
      LossOptions options) {
    super(options);
    if (!distance.isInverted()) {
      throw new IllegalArgumentException(
          "SoftTripleLoss requires an inverted distance (a similarity), got " + distance);
    }
    if (numClasses < 1 || embeddingSize < 1 || centersPerClass < 1) {
      throw new IllegalArgumentException("num_classes, embedding_size and centers_per_class must be >= 1, got "
          + numClasses + ", " + embeddingSize + " and " + centersPerClass);
    }
    this.numClasses = numClasses;
    this.embeddingSize = embeddingSize;
    this.centersPerClass = centersPerClass;
    this.la = la;
    this.gamma = gamma;
    this.margin = margin;
    // kaiming_uniform_(a = sqrt 5): gain = sqrt(2 / (1 + a^2)), bound = sqrt(3) * gain / sqrt(fan_in) = 1/sqrt(fan_in),
    // with fan_in = size(1) = num_classes * centers_per_class.
    long cols = (long) numClasses * centersPerClass;
    double gain = Math.sqrt(2.0 / (1 + 5.0));
    double bound = Math.sqrt(3.0) * gain / Math.sqrt(cols);
    registerParameter("fc", torch.empty(embeddingSize, cols).uniform_(-bound, bound, new GeneratorOptional()));
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    checkLabelRange(labels, numClasses);
    ScalarType dtype = Tensors.dtype(embeddings);
    Tensor fc = paramLike("fc", embeddings);
    Tensor minerWeights = Lmu.convertToWeights(indicesTuple, labels, dtype, false);
    Tensor simToClasses = logits(embeddings, fc);
    Tensor marginMat = torch.zeros_like(simToClasses);
    Tensors.put2(marginMat, Tensors.arange(marginMat.size(0), labels), labels, margin);
    Tensor loss = torch.cross_entropy_loss(simToClasses.sub(marginMat).mul(Tensors.s(la)), labels,
        new TensorOptional(), 0 /* none */, -100, 0.0);
    LossDict d = LossDict.of("loss",
        LossInfo.element(loss.mul(minerWeights), Tensors.arange(embeddings.size(0), embeddings)));
    addWeightRegularization(d, fc.t());
    return d;
  }

  /** PML's {@code get_logits}: the {@code [N, num_classes]} softmax-weighted similarities to each class's centers. */
  public Tensor getLogits(Tensor embeddings) {
    return logits(embeddings, paramLike("fc", embeddings));
  }

  private Tensor logits(Tensor embeddings, Tensor fc) {
    Tensor simToCenters = distance.forward(embeddings, fc.t()).view(-1, numClasses, centersPerClass);
    Tensor prob = torch.softmax(simToCenters.mul(Tensors.s(1.0 / gamma)), 2);
    return prob.mul(simToCenters).sum(new long[] {2}, false, new ScalarTypeOptional());
  }

  public int numClasses() {
    return numClasses;
  }

  public int embeddingSize() {
    return embeddingSize;
  }

  public int centersPerClass() {
    return centersPerClass;
  }

  public double la() {
    return la;
  }

  /** The {@code gamma} as given (PML stores its inverse). */
  public double gamma() {
    return gamma;
  }

  public double margin() {
    return margin;
  }

  /**
   * Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code centers_per_class}, {@code la},
   * {@code gamma}, {@code margin}.
   */
  public static SoftTripleLoss fromSpec(Params p) {
    return new SoftTripleLoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getInt("centers_per_class", DEFAULT_CENTERS_PER_CLASS), p.getDouble("la", DEFAULT_LA),
        p.getDouble("gamma", DEFAULT_GAMMA), p.getDouble("margin", DEFAULT_MARGIN), LossOptions.fromSpec(p, true));
  }
}
