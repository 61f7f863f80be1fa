package org.pml4j.losses;

import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code AngularLoss} (Wang et al., "Deep Metric Learning with Angular Loss"). For every positive pair
 * {@code (a, p)} (from the tuple, or all of them from the labels), with {@code a}, {@code p} L2-normalized:
 * {@code log(1 + sum_n exp(4 tan^2(alpha) (a + p) . x_n - 2 (1 + tan^2(alpha)) a . p))}, where the negatives
 * {@code x_n} are <em>every</em> reference row whose label differs from the anchor's, taken <em>un-normalized</em> as
 * in PML (the tuple's negative pairs only decide whether the loss is zero). {@code alpha} is in degrees.
 *
 * <p>Labels are required. The distance must be {@code LpDistance(p=2, power=1, normalize_embeddings=True)} (the
 * default; only its {@code normalize} is used). Sub-loss {@code loss}, reduction {@code pos_pair}, default
 * {@link org.pml4j.reducers.MeanReducer}.
 */
public class AngularLoss extends BaseMetricLossFunction {
  private final double alpha;

  /** PML's default {@code alpha}: the angle, in degrees. */
  public static final double DEFAULT_ALPHA = 40;

  /** PML's default: {@link #DEFAULT_ALPHA}. */
  public AngularLoss() {
    this(DEFAULT_ALPHA, LossOptions.defaults());
  }

  /**
   * @param alpha the angle of the paper, in degrees
   * @param options distance (must be the default LpDistance), reducer, embedding regularizer
   * @throws IllegalArgumentException for another distance
   */
  public AngularLoss(double alpha, LossOptions options) {
    super(options);
    requireDistance(LpDistance.class, false, true);
    if (distance.p() != 2) {
      throw new IllegalArgumentException("AngularLoss requires distance.p to be 2");
    }
    if (distance.power() != 1) {
      throw new IllegalArgumentException("AngularLoss requires distance.power to be 1");
    }
    this.alpha = alpha;
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsRequired(labels);
    IndicesTuple pairs = Lmu.convertToPairs(indicesTuple, labels, refLabels);
    Tensor a1 = pairs.get(0);
    Tensor p = pairs.get(1);
    if (Tensors.len(a1) == 0 || Tensors.len(pairs.get(2)) == 0) {
      return zeroLosses();
    }
    Tensor anchors = distance.normalize(Tensors.index(embeddings, a1), 1);
    Tensor positives = distance.normalize(Tensors.index(refEmb, p), 1);
    Tensor keepMask = Tensors.index(labels, a1).unsqueeze(1).ne(refLabels.unsqueeze(0));
    // PML keeps alpha as a float64 tensor: tan^2 is computed in double, then applied as a scalar.
    double rad = Math.toRadians(alpha);
    double sqTan = Math.pow(Math.tan(rad), 2);
    Tensor apDot = anchors.mul(positives).sum(new long[] {1}, true, new ScalarTypeOptional());
    Tensor apMatmulEmb = anchors.add(positives).matmul(refEmb.t());
    Tensor finalForm = apMatmulEmb.mul(Tensors.s(4 * sqTan)).sub(apDot.mul(Tensors.s(2 * (1 + sqTan))));
    Tensor losses = Lmu.logsumexp(finalForm, keepMask, true, 1);
    return LossDict.of("loss", new LossInfo(losses, new Tensor[] {a1, p}, ReductionType.POS_PAIR));
  }

  /** The angle, in degrees. */
  public double alpha() {
    return alpha;
  }

  /** Registry factory: {@code alpha} (degrees), common kwargs. */
  public static AngularLoss fromSpec(Params p) {
    return new AngularLoss(p.getDouble("alpha", DEFAULT_ALPHA), LossOptions.fromSpec(p, false));
  }
}
