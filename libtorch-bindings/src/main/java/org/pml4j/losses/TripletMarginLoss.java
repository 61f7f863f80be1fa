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
import org.pml4j.validation.Inputs;

/**
 * PML's {@code TripletMarginLoss}: {@code relu(margin(d_ap, d_an) + margin)} per triplet (softplus with
 * {@code smoothLoss}); with {@code swap} the anchor-negative distance is replaced by the positive-negative one when
 * that is closer. Triplets come from the tuple (pairs are combined per anchor) or, without one, from the labels: all
 * of them, or {@code tripletsPerAnchor} random ones per anchor. Default reducer: {@link AvgNonZeroReducer}.
 *
 * <p><b>PML 2.8.1 bug kept by default:</b> with {@code swap} and a reference set, PML takes the positive-negative
 * distance from the (query x reference) matrix as {@code mat[p, n]}: the positive index {@code p} addresses the
 * reference but is used as a <em>query</em> row, so the "positive" is {@code embeddings[p]}, not {@code refEmb[p]}
 * (it is only right when the reference is the batch). This port does the same, and raises an
 * {@link IllegalArgumentException} where PML raises an index error (a positive index beyond the batch).
 * {@link #withSwapFromRef(boolean) withSwapFromRef(true)} (spec key {@code swap_from_ref}) computes the correct
 * {@code d(refEmb[p], refEmb[n])} instead; without a reference set both give the same result.
 */
public class TripletMarginLoss extends BaseMetricLossFunction {
  private final double margin;
  private final boolean swap;
  private final boolean smoothLoss;
  private final Integer tripletsPerAnchor;
  private final boolean swapFromRef;

  /** PML's default {@code margin}. */
  public static final double DEFAULT_MARGIN = 0.05;
  /** PML's default {@code swap}. */
  public static final boolean DEFAULT_SWAP = false;
  /** PML's default {@code smooth_loss}: the hinge, not softplus. */
  public static final boolean DEFAULT_SMOOTH_LOSS = false;
  /** Default {@code swap_from_ref}: off, PML 2.8.1's behaviour. */
  public static final boolean DEFAULT_SWAP_FROM_REF = false;

  /** PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_SWAP}, {@link #DEFAULT_SMOOTH_LOSS}, all triplets. */
  public TripletMarginLoss() {
    this(DEFAULT_MARGIN, DEFAULT_SWAP, DEFAULT_SMOOTH_LOSS, null, LossOptions.defaults());
  }

  /** A margin, PML's other defaults. */
  public TripletMarginLoss(double margin) {
    this(margin, DEFAULT_SWAP, DEFAULT_SMOOTH_LOSS, null, LossOptions.defaults());
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
    this(margin, swap, smoothLoss, tripletsPerAnchor, options, DEFAULT_SWAP_FROM_REF);
  }

  private TripletMarginLoss(double margin, boolean swap, boolean smoothLoss, Integer tripletsPerAnchor,
      LossOptions options, boolean swapFromRef) {
    super(options);
    if (tripletsPerAnchor != null && tripletsPerAnchor < 1) {
      throw new IllegalArgumentException("triplets_per_anchor must be \"all\" or >= 1, got " + tripletsPerAnchor);
    }
    this.margin = margin;
    this.swap = swap;
    this.smoothLoss = smoothLoss;
    this.tripletsPerAnchor = tripletsPerAnchor;
    this.swapFromRef = swapFromRef;
  }

  /**
   * Beyond PML (a fix of a PML 2.8.1 bug, off by default): a copy of this loss whose {@code swap} takes the
   * positive-negative distance {@code d(refEmb[p], refEmb[n])} from the reference embeddings, instead of PML's
   * {@code mat[p, n]} (query row {@code p}). Only matters with {@code swap} and a reference set.
   *
   * @param fix true for the corrected distance, false for PML's behaviour
   * @return a new loss with the same parameters and options
   */
  public TripletMarginLoss withSwapFromRef(boolean fix) {
    return new TripletMarginLoss(margin, swap, smoothLoss, tripletsPerAnchor, options, fix);
  }

  /** Whether {@link #forward} may take the {@link MaskedTriplets} kernel; only tests turn it off (to compare). */
  static volatile boolean maskedKernel = true;

  /**
   * {@inheritDoc}
   *
   * <p>Every triplet of a pair-mask tuple (a miner's, such as MultiSimilarityMiner's) or, without a tuple, every
   * triplet of the labels is reduced by the {@link MaskedTriplets} kernel, without index tensors, when this loss has
   * no {@code swap}, no {@code smooth_loss}, {@code triplets_per_anchor} "all" and a reducer of that kernel's (the
   * default {@link AvgNonZeroReducer} among them), on the CPU. Same values and gradients as the indexed path up to the
   * order of summation; no second derivative. Anything else, and {@link #lossDict}, take PML's indexed path.
   */
  @Override
  LossDict forwardLossDict(Inputs in) {
    IndicesTuple tuple = in.indicesTuple();
    boolean masked = maskedKernel && !swap && !smoothLoss && MaskedTriplets.supports(reducerFor("loss"))
        && (tuple != null ? tuple.pairMasks() != null : in.labels() != null && tripletsPerAnchor == null)
        && in.embeddings().size(0) > 0;
    LossDict dict = masked ? maskedLoss(in) : null;
    if (dict == null) {
      return super.forwardLossDict(in);
    }
    addEmbeddingRegularization(dict, in.embeddings());
    return dict;
  }

  /** The loss dict from {@link MaskedTriplets}; null where it does not apply (not on the CPU, a non-finite matrix). */
  private LossDict maskedLoss(Inputs in) {
    Tensor emb = in.embeddings();
    if (!emb.device().is_cpu()) {
      return null;
    }
    // no ref_labels with a same-size ref_emb: PML's reading, the labels themselves (so (i, i) is no positive pair)
    Tensor refLabels = in.refLabels() == null ? in.labels() : in.refLabels();
    Tensor[] masks = in.indicesTuple() != null ? in.indicesTuple().pairMasks()
        : GenericPairLoss.pairMasks(in.labels(), refLabels, null);
    if (masks == null) {
      return null;
    }
    Tensor mat = distance.forward(emb, in.refEmb());
    LossInfo info = MaskedTriplets.reduce(mat, masks[0], masks[1], margin, distance.isInverted(), reducerFor("loss"));
    return info == null ? null : LossDict.of("loss", info);
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
      an = distance.smallestDist(an, positiveNegativeDistances(mat, p, n, embeddings, refEmb));
    }
    Tensor violation = distance.margin(ap, an).add(Tensors.s(margin));
    Tensor loss = smoothLoss ? torch.softplus(violation) : torch.relu(violation);
    return LossDict.of("loss", new LossInfo(loss, t.tensors(), ReductionType.TRIPLET));
  }

  /**
   * The swap's positive-negative distances. PML 2.8.1: {@code mat[p, n]}, two reference indices into the
   * (query x reference) matrix, right only when the reference is the batch. With {@link #withSwapFromRef}: computed
   * from the reference embeddings, one matrix row per distinct positive.
   */
  private Tensor positiveNegativeDistances(Tensor mat, Tensor p, Tensor n, Tensor embeddings, Tensor refEmb) {
    if (refEmb == embeddings) {
      return Tensors.index2(mat, p, n);
    }
    if (swapFromRef) {
      Tensor[] u = Tensors.unique(p);
      Tensor rows = distance.forward(Tensors.index(refEmb, u[0]), refEmb);
      return Tensors.index2(rows, u[1], n);
    }
    long maxP = p.max().item_long();
    if (maxP >= mat.size(0)) {
      throw new IllegalArgumentException("TripletMarginLoss(swap=True) with ref_emb: PML 2.8.1 indexes the (query x "
          + "ref) distance matrix with the positive (ref) index as a query row, and positive index " + maxP
          + " exceeds the " + mat.size(0) + " query rows (PML raises an index error here). Use withSwapFromRef(true) "
          + "(spec key swap_from_ref) for d(ref_emb[p], ref_emb[n])");
    }
    return Tensors.index2(mat, p, n);
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

  /** Whether the swap uses {@code d(refEmb[p], refEmb[n])} (the fix; see {@link #withSwapFromRef}). */
  public boolean swapFromRef() {
    return swapFromRef;
  }

  /** Null means "all". */
  public Integer tripletsPerAnchor() {
    return tripletsPerAnchor;
  }

  /**
   * Registry factory: {@code margin}, {@code swap}, {@code smooth_loss}, {@code triplets_per_anchor}, common kwargs,
   * and beyond PML {@code swap_from_ref} ({@link #DEFAULT_SWAP_FROM_REF}; see {@link #withSwapFromRef}).
   */
  public static TripletMarginLoss fromSpec(Params p) {
    return new TripletMarginLoss(p.getDouble("margin", DEFAULT_MARGIN), p.getBool("swap", DEFAULT_SWAP),
        p.getBool("smooth_loss", DEFAULT_SMOOTH_LOSS), p.getIntOrAll("triplets_per_anchor"),
        LossOptions.fromSpec(p, false), p.getBool("swap_from_ref", DEFAULT_SWAP_FROM_REF));
  }
}
