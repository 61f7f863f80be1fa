package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code ThresholdConsistentMarginLoss} (TCM; Zhang et al., 2023, arXiv:2307.04047), meant as a regularizer
 * added to another loss: positive pairs with cosine similarity {@code s <= marginPlus} pay the mean of
 * {@code marginPlus - s}, negative pairs with {@code s >= marginMinus} the mean of {@code s - marginMinus};
 * {@code loss = lambdaPlus * pos + lambdaMinus * neg} (a part without such pairs is 0).
 *
 * <p>Pairs come from the labels (all pairs) or the tuple. <b>PML 2.8.1 bug kept by default:</b> the similarities
 * are always {@code F.cosine_similarity} of rows of {@code embeddings}: the configured distance is not used, and with
 * a reference set the positive and negative indices (which address the reference) still index {@code embeddings}
 * (an index beyond the batch, where PML raises an index error, is an {@link IllegalArgumentException} here).
 * {@link #withRefEmb(boolean) withRefEmb(true)} (spec key {@code use_ref_emb}) fixes both: the similarities are
 * {@code distance(embeddings, refEmb)[a, p]}, i.e. the configured {@link CosineSimilarity} (with its
 * {@code normalize_embeddings}, {@code power}) between the anchor and the reference row.
 *
 * <p>Distance: {@link CosineSimilarity} (required; unused unless {@link #withRefEmb}). Default reducer: MeanReducer
 * (already reduced).
 */
public class ThresholdConsistentMarginLoss extends BaseMetricLossFunction {
  private final double lambdaPlus;
  private final double lambdaMinus;
  private final double marginPlus;
  private final double marginMinus;
  private final boolean useRefEmb;

  /** PML's default {@code lambda_plus}. */
  public static final double DEFAULT_LAMBDA_PLUS = 1.0;
  /** PML's default {@code lambda_minus}. */
  public static final double DEFAULT_LAMBDA_MINUS = 1.0;
  /** PML's default {@code margin_plus}. */
  public static final double DEFAULT_MARGIN_PLUS = 0.9;
  /** PML's default {@code margin_minus}. */
  public static final double DEFAULT_MARGIN_MINUS = 0.5;
  /** Default {@code use_ref_emb}: off, PML 2.8.1's behaviour. */
  public static final boolean DEFAULT_USE_REF_EMB = false;

  /**
   * PML's defaults: {@link #DEFAULT_LAMBDA_PLUS}, {@link #DEFAULT_LAMBDA_MINUS}, {@link #DEFAULT_MARGIN_PLUS},
   * {@link #DEFAULT_MARGIN_MINUS}.
   */
  public ThresholdConsistentMarginLoss() {
    this(DEFAULT_LAMBDA_PLUS, DEFAULT_LAMBDA_MINUS, DEFAULT_MARGIN_PLUS, DEFAULT_MARGIN_MINUS, LossOptions.defaults());
  }

  /**
   * @param lambdaPlus weight of the positive part
   * @param lambdaMinus weight of the negative part
   * @param marginPlus positive pairs below this similarity are penalised
   * @param marginMinus negative pairs above this similarity are penalised
   * @param options distance (CosineSimilarity only), reducer, regularizer
   */
  public ThresholdConsistentMarginLoss(double lambdaPlus, double lambdaMinus, double marginPlus, double marginMinus,
      LossOptions options) {
    this(lambdaPlus, lambdaMinus, marginPlus, marginMinus, options, DEFAULT_USE_REF_EMB);
  }

  private ThresholdConsistentMarginLoss(double lambdaPlus, double lambdaMinus, double marginPlus, double marginMinus,
      LossOptions options, boolean useRefEmb) {
    super(options);
    requireDistance(CosineSimilarity.class, null, null);
    this.lambdaPlus = lambdaPlus;
    this.lambdaMinus = lambdaMinus;
    this.marginPlus = marginPlus;
    this.marginMinus = marginMinus;
    this.useRefEmb = useRefEmb;
  }

  /**
   * Beyond PML (a fix of a PML 2.8.1 bug, off by default): a copy of this loss that takes the positive and negative
   * rows from {@code refEmb} (not {@code embeddings}) and measures them with the configured distance, as the other
   * pair losses do. Without a reference set and with the default CosineSimilarity the result equals PML's.
   *
   * @param fix true for the corrected loss, false for PML's behaviour
   * @return a new loss with the same parameters and options
   */
  public ThresholdConsistentMarginLoss withRefEmb(boolean fix) {
    return new ThresholdConsistentMarginLoss(lambdaPlus, lambdaMinus, marginPlus, marginMinus, options, fix);
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsOrIndicesTupleRequired(labels, indicesTuple);
    IndicesTuple pairs = Lmu.convertToPairs(indicesTuple, labels, refLabels);
    Tensor posSims;
    Tensor negSims;
    if (useRefEmb) {
      Tensor mat = distance.forward(embeddings, refEmb);
      posSims = Tensors.index2(mat, pairs.get(0), pairs.get(1));
      negSims = Tensors.index2(mat, pairs.get(2), pairs.get(3));
    } else {
      long n = embeddings.size(0);
      for (int i = 1; i < 4; i += 2) {
        Tensor t = pairs.get(i);
        if (Tensors.len(t) > 0 && t.max().item_long() >= n) {
          throw new IllegalArgumentException("ThresholdConsistentMarginLoss indexes embeddings (not ref_emb) with "
              + "the reference indices, as PML 2.8.1 does, but index " + t.max().item_long() + " exceeds the " + n
              + " embeddings; withRefEmb(true) (spec key use_ref_emb) uses ref_emb");
        }
      }
      // PML 2.8.1 indexes embeddings (not ref_emb) with the positive/negative indices, and ignores the distance.
      posSims = torch.cosine_similarity(Tensors.index(embeddings, pairs.get(0)),
          Tensors.index(embeddings, pairs.get(1)), 1, 1e-8);
      negSims = torch.cosine_similarity(Tensors.index(embeddings, pairs.get(2)),
          Tensors.index(embeddings, pairs.get(3)), 1, 1e-8);
    }

    Tensor sLteM = posSims.le(Tensors.s(marginPlus));
    Tensor posTcm = null;
    if (sLteM.any().item_bool()) {
      Tensor num = torch.rsub(posSims, Tensors.s(marginPlus)).mul(sLteM).sum();
      posTcm = num.div(sLteM.sum());
    }
    Tensor sGteM = negSims.ge(Tensors.s(marginMinus));
    Tensor negTcm = null;
    if (sGteM.any().item_bool()) {
      Tensor num = negSims.sub(Tensors.s(marginMinus)).mul(sGteM).sum();
      negTcm = num.div(sGteM.sum());
    }
    if (posTcm == null && negTcm == null) {
      return zeroLosses(); // PML: the Python number 0
    }
    Tensor loss;
    if (posTcm == null) {
      loss = negTcm.mul(Tensors.s(lambdaMinus)).add(Tensors.s(lambdaPlus * 0.0));
    } else if (negTcm == null) {
      loss = posTcm.mul(Tensors.s(lambdaPlus)).add(Tensors.s(lambdaMinus * 0.0));
    } else {
      loss = posTcm.mul(Tensors.s(lambdaPlus)).add(negTcm.mul(Tensors.s(lambdaMinus)));
    }
    return LossDict.of("loss", LossInfo.reduced(loss));
  }

  public double lambdaPlus() {
    return lambdaPlus;
  }

  public double lambdaMinus() {
    return lambdaMinus;
  }

  public double marginPlus() {
    return marginPlus;
  }

  public double marginMinus() {
    return marginMinus;
  }

  /** Whether the loss uses {@code refEmb} and the distance (the fix; see {@link #withRefEmb}). */
  public boolean useRefEmb() {
    return useRefEmb;
  }

  /**
   * Registry factory: {@code lambda_plus}, {@code lambda_minus}, {@code margin_plus}, {@code margin_minus}, common
   * kwargs, and beyond PML {@code use_ref_emb} ({@link #DEFAULT_USE_REF_EMB}; see {@link #withRefEmb}).
   */
  public static ThresholdConsistentMarginLoss fromSpec(Params p) {
    return new ThresholdConsistentMarginLoss(p.getDouble("lambda_plus", DEFAULT_LAMBDA_PLUS),
        p.getDouble("lambda_minus", DEFAULT_LAMBDA_MINUS), p.getDouble("margin_plus", DEFAULT_MARGIN_PLUS),
        p.getDouble("margin_minus", DEFAULT_MARGIN_MINUS), LossOptions.fromSpec(p, false),
        p.getBool("use_ref_emb", DEFAULT_USE_REF_EMB));
  }
}
