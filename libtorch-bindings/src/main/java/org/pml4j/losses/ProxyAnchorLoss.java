package org.pml4j.losses;

import java.util.List;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.DivisorReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code ProxyAnchorLoss} (Kim et al., 2020). One learnable proxy per class ({@code proxies},
 * {@code [num_classes, embedding_size]}, initialised with {@code kaiming_normal_(mode="fan_out")}). With {@code s}
 * the similarity between sample {@code x} and proxy {@code c} (default {@link CosineSimilarity}), each proxy pays
 *
 * <pre>
 *   pos_loss[c] = log(1 + sum_{x of class c}     exp(alpha * margin(s, margin)  + w_x - 1))
 *   neg_loss[c] = log(1 + sum_{x not of class c} exp(alpha * margin(-margin, s) + w_x - 1))
 * </pre>
 *
 * where {@code w_x} are the miner weights (1 without a tuple; so an unmined sample enters with {@code e^-1}, not 0,
 * as in PML). Reduced by {@link DivisorReducer}: {@code pos_loss} divided by the number of proxies with a positive in
 * the batch, {@code neg_loss} by {@code num_classes}, summed. Labels required (in {@code [0, num_classes)}), no
 * reference set; an optional {@code weight_regularizer} is applied to the proxies.
 */
public class ProxyAnchorLoss extends BaseWeightLoss {
  private final int numClasses;
  private final int embeddingSize;
  private final double margin;
  private final double alpha;

  /** PML's default {@code margin}. */
  public static final double DEFAULT_MARGIN = 0.1;
  /** PML's default {@code alpha}: the scale. */
  public static final double DEFAULT_ALPHA = 32;

  /** PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_ALPHA}. */
  public ProxyAnchorLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_MARGIN, DEFAULT_ALPHA, LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes (and proxies)
   * @param embeddingSize width of the embeddings
   * @param margin the margin {@code delta}
   * @param alpha the scale
   * @param options distance (default {@link CosineSimilarity}), reducer (default {@link DivisorReducer}),
   *     embedding and weight regularizers
   */
  public ProxyAnchorLoss(int numClasses, int embeddingSize, double margin, double alpha, LossOptions options) {
    super(options);
    if (numClasses < 1 || embeddingSize < 1) {
      throw new IllegalArgumentException(
          "num_classes and embedding_size must be >= 1, got " + numClasses + " and " + embeddingSize);
    }
    this.numClasses = numClasses;
    this.embeddingSize = embeddingSize;
    this.margin = margin;
    this.alpha = alpha;
    // torch.nn.init.kaiming_normal_(mode="fan_out", nonlinearity="leaky_relu", a=0): std = sqrt(2) / sqrt(fan_out),
    // fan_out = size(0) = num_classes.
    double std = Math.sqrt(2.0) / Math.sqrt(numClasses);
    registerParameter("proxies", torch.empty(numClasses, embeddingSize).normal_(0.0, std, new GeneratorOptional()));
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected BaseReducer defaultReducer() {
    return new DivisorReducer();
  }

  @Override
  protected List<String> baseSubLossNames() {
    return List.of("pos_loss", "neg_loss");
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    checkLabelRange(labels, numClasses);
    ScalarType dtype = Tensors.dtype(embeddings);
    Tensor proxies = paramLike("proxies", embeddings);
    Tensor minerWeights = Lmu.convertToWeights(indicesTuple, labels, dtype, false).unsqueeze(1).sub(Tensors.s(1.0));
    Tensor cos = distance.forward(embeddings, proxies);
    Tensor posMask = torch.one_hot(labels, numClasses);
    Tensor negMask = torch.rsub(posMask, Tensors.s(1L));
    long withPosProxies = posMask.sum(new long[] {0}, false, new ScalarTypeOptional()).ne(Tensors.s(0L)).sum()
        .item_long();
    Tensor posExp = distance.margin(cos, margin);
    Tensor negExp = distance.margin(-margin, cos);
    Tensor posTerm = Lmu.logsumexp(posExp.mul(Tensors.s(alpha)).add(minerWeights), posMask.to(ScalarType.Bool), true,
        0);
    Tensor negTerm = Lmu.logsumexp(negExp.mul(Tensors.s(alpha)).add(minerWeights), negMask.to(ScalarType.Bool), true,
        0);
    Tensor lossIndices = Tensors.arange(numClasses, embeddings);
    LossDict d = new LossDict();
    d.put("pos_loss", new LossInfo(posTerm.squeeze(0), new Tensor[] {lossIndices}, ReductionType.ELEMENT,
        (double) withPosProxies));
    d.put("neg_loss", new LossInfo(negTerm.squeeze(0), new Tensor[] {lossIndices}, ReductionType.ELEMENT,
        (double) numClasses));
    addWeightRegularization(d, proxies);
    return d;
  }

  /**
   * PML's {@code get_logits}: the {@code [N, num_classes]} distance (by default cosine similarity) between the
   * embeddings and the proxies.
   */
  public Tensor getLogits(Tensor embeddings) {
    return distance.forward(embeddings, paramLike("proxies", embeddings));
  }

  public int numClasses() {
    return numClasses;
  }

  public int embeddingSize() {
    return embeddingSize;
  }

  public double margin() {
    return margin;
  }

  public double alpha() {
    return alpha;
  }

  /** Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code margin}, {@code alpha}. */
  public static ProxyAnchorLoss fromSpec(Params p) {
    return new ProxyAnchorLoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getDouble("margin", DEFAULT_MARGIN), p.getDouble("alpha", DEFAULT_ALPHA), LossOptions.fromSpec(p, true));
  }
}
