package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.reducers.AvgNonZeroReducer;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code TripletMarginLoss}: {@code relu(margin(d_ap, d_an) + margin)} per triplet (softplus with
 * {@code smoothLoss}); with {@code swap} the anchor-negative distance is replaced by the positive-negative one when
 * that is closer. Triplets come from the tuple (pairs are combined per anchor) or, without one, from the labels: all
 * of them, or {@code tripletsPerAnchor} random ones per anchor. Default reducer: {@link AvgNonZeroReducer}.
 */
public class TripletMarginLoss extends BaseMetricLossFunction {
  private final double margin;
  private final boolean swap;
  private final boolean smoothLoss;
  private final Integer tripletsPerAnchor;

  /** PML's defaults: margin 0.05, no swap, hinge, all triplets. */
  public TripletMarginLoss() {
    this(0.05, false, false, null, LossOptions.defaults());
  }

  /** A margin, PML's other defaults. */
  public TripletMarginLoss(double margin) {
    this(margin, false, false, null, LossOptions.defaults());
  }

  /**
   * @param margin desired gap between the anchor-positive and anchor-negative distance
   * @param swap use the positive-negative distance when it violates the margin more
   * @param smoothLoss softplus instead of relu
   * @param tripletsPerAnchor null for all triplets, else that many random triplets per anchor
   * @param options distance (default LpDistance), reducer (default AvgNonZeroReducer), regularizer
   */
  public TripletMarginLoss(double margin, boolean swap, boolean smoothLoss, Integer tripletsPerAnchor,
      LossOptions options) {
    super(options);
    if (tripletsPerAnchor != null && tripletsPerAnchor < 1) {
      throw new IllegalArgumentException("triplets_per_anchor must be \"all\" or >= 1, got " + tripletsPerAnchor);
    }
    this.margin = margin;
    this.swap = swap;
    this.smoothLoss = smoothLoss;
    this.tripletsPerAnchor = tripletsPerAnchor;
  }

  @Override
  protected BaseReducer defaultReducer() {
    return new AvgNonZeroReducer();
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labelsOrIndicesTupleRequired(labels, indicesTuple);
    IndicesTuple t = Lmu.convertToTriplets(indicesTuple, labels, refLabels, tripletsPerAnchor);
    Tensor a = t.get(0);
    Tensor p = t.get(1);
    Tensor n = t.get(2);
    if (Tensors.len(a) == 0) {
      return zeroLosses();
    }
    Tensor mat = distance.forward(embeddings, refEmb);
    Tensor ap = Tensors.index2(mat, a, p);
    Tensor an = Tensors.index2(mat, a, n);
    if (swap) {
      // PML indexes the (query x ref) matrix with two ref indices here: only meaningful when ref is the batch.
      Tensor pn = Tensors.index2(mat, p, n);
      an = distance.smallestDist(an, pn);
    }
    Tensor violation = distance.margin(ap, an).add(Tensors.s(margin));
    Tensor loss = smoothLoss ? torch.softplus(violation) : torch.relu(violation);
    return LossDict.of("loss", new LossInfo(loss, t.tensors(), ReductionType.TRIPLET));
  }

  public double margin() {
    return margin;
  }

  public boolean swap() {
    return swap;
  }

  public boolean smoothLoss() {
    return smoothLoss;
  }

  /** Null means "all". */
  public Integer tripletsPerAnchor() {
    return tripletsPerAnchor;
  }

  /** Registry factory: {@code margin}, {@code swap}, {@code smooth_loss}, {@code triplets_per_anchor}, common kwargs. */
  public static TripletMarginLoss fromSpec(Params p) {
    return new TripletMarginLoss(p.getDouble("margin", 0.05), p.getBool("swap", false),
        p.getBool("smooth_loss", false), p.getIntOrAll("triplets_per_anchor"), p.lossOptions(false));
  }
}
