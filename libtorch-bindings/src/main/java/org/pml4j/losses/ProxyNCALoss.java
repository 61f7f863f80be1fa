package org.pml4j.losses;

import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code ProxyNCALoss} (Movshovitz-Attias et al., 2017): NCA between the embeddings and one learnable proxy per
 * class ({@code proxies}, {@code [num_classes, embedding_size]}, initialised with {@code normal_}). With {@code d}
 * the distance to the proxies (default {@code LpDistance(power=2)}: squared Euclidean between normalized vectors;
 * a similarity is used as is instead of negated), each sample {@code i} of label {@code y_i} pays
 *
 * <pre>
 *   -log( softmax_j(softmax_scale * (-d_ij))[y_i] ) * w_i
 * </pre>
 *
 * with {@code w} the miner weights (only anchors count). Samples whose probability is exactly 0 (for instance a label
 * outside {@code [0, num_classes)}) are dropped, as in PML's NCALoss. Labels required, no reference set; an optional
 * {@code weight_regularizer} is applied to the proxies. The NCA computation is PML's {@code NCALoss.nca_computation}
 * with the proxies as reference (no self-exclusion, since the reference is not the batch).
 */
public class ProxyNCALoss extends BaseWeightLoss {
  private final int numClasses;
  private final int embeddingSize;
  private final double softmaxScale;

  /** PML's default, NCALoss's: {@link NCALoss#DEFAULT_SOFTMAX_SCALE}. */
  public ProxyNCALoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, NCALoss.DEFAULT_SOFTMAX_SCALE, LossOptions.defaults());
  }

  /**
   * @param numClasses number of classes (and proxies)
   * @param embeddingSize width of the embeddings
   * @param softmaxScale NCALoss's {@code softmax_scale}: multiplies the negated distances before the softmax
   * @param options distance (default {@code LpDistance(power=2)}), reducer (default MeanReducer), embedding and
   *     weight regularizers
   */
  public ProxyNCALoss(int numClasses, int embeddingSize, double softmaxScale, LossOptions options) {
    super(options);
    if (numClasses < 1 || embeddingSize < 1) {
      throw new IllegalArgumentException(
          "num_classes and embedding_size must be >= 1, got " + numClasses + " and " + embeddingSize);
    }
    this.numClasses = numClasses;
    this.embeddingSize = embeddingSize;
    this.softmaxScale = softmaxScale;
    registerParameter("proxies", torch.empty(numClasses, embeddingSize).normal_(0.0, 1.0, new GeneratorOptional()));
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new LpDistance(true, 2, 2);
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    refNotSupported(embeddings, labels, refEmb, refLabels);
    Tensor proxies = paramLike("proxies", embeddings);
    LossDict d = ncaComputation(embeddings, proxies, labels, Tensors.arange(numClasses, labels), indicesTuple);
    addWeightRegularization(d, proxies);
    return d;
  }

  /** NCALoss's {@code nca_computation} with a reference that is not the query (so no diagonal exclusion). */
  private LossDict ncaComputation(Tensor query, Tensor reference, Tensor queryLabels, Tensor referenceLabels,
      IndicesTuple indicesTuple) {
    ScalarType dtype = Tensors.dtype(query);
    Tensor minerWeights = Lmu.convertToWeights(indicesTuple, queryLabels, dtype, true);
    Tensor mat = distance.forward(query, reference);
    if (!distance.isInverted()) {
      mat = mat.neg();
    }
    Tensor sameLabels = queryLabels.unsqueeze(1).eq(referenceLabels.unsqueeze(0)).to(dtype);
    Tensor exp = torch.softmax(mat.mul(Tensors.s(softmaxScale)), 1);
    exp = exp.mul(sameLabels).sum(new long[] {1}, false, new ScalarTypeOptional());
    Tensor nonZero = exp.ne(Tensors.s(0.0));
    Tensor loss = Tensors.index(exp, nonZero).log().neg().mul(Tensors.index(minerWeights, nonZero));
    return LossDict.of("loss", LossInfo.element(loss, Tensors.index(Tensors.arange(query.size(0), query), nonZero)));
  }

  /**
   * PML's {@code get_logits}: the raw {@code [N, num_classes]} distance matrix to the proxies (squared distances by
   * default, so smaller means closer; not negated).
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

  public double softmaxScale() {
    return softmaxScale;
  }

  /** Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code softmax_scale}. */
  public static ProxyNCALoss fromSpec(Params p) {
    return new ProxyNCALoss(p.getRequiredInt("num_classes"), p.getRequiredInt("embedding_size"),
        p.getDouble("softmax_scale", NCALoss.DEFAULT_SOFTMAX_SCALE), LossOptions.fromSpec(p, true));
  }
}
