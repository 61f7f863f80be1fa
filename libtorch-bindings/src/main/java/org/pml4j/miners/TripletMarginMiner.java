package org.pml4j.miners;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code TripletMarginMiner}: of all triplets {@code (a, p, n)}, those whose margin
 * {@code m = d_an - d_ap} (for similarities {@code s_ap - s_an}) satisfies the chosen type:
 *
 * <ul>
 *   <li>{@code "all"}: {@code m <= margin} (the triplet violates the margin);
 *   <li>{@code "hard"}: {@code m <= margin} and {@code m <= 0};
 *   <li>{@code "semihard"}: {@code 0 < m <= margin};
 *   <li>{@code "easy"}: {@code m > margin}.
 * </ul>
 *
 * Enumerates all {@code N·M·M} triplets, as PML does.
 */
public class TripletMarginMiner extends BaseMiner {
  private final double margin;
  private final String typeOfTriplets;

  /** PML's default {@code margin}. */
  public static final double DEFAULT_MARGIN = 0.2;
  /** PML's default {@code type_of_triplets}: every triplet that violates the margin. */
  public static final String DEFAULT_TYPE_OF_TRIPLETS = "all";

  /** PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_TYPE_OF_TRIPLETS}, LpDistance. */
  public TripletMarginMiner() {
    this(DEFAULT_MARGIN, DEFAULT_TYPE_OF_TRIPLETS, null);
  }

  /** A margin and a type, LpDistance. */
  public TripletMarginMiner(double margin, String typeOfTriplets) {
    this(margin, typeOfTriplets, null);
  }

  /**
   * @param margin the margin
   * @param typeOfTriplets {@code "all"}, {@code "hard"}, {@code "semihard"} or {@code "easy"}
   * @param distance null for the default LpDistance
   * @throws IllegalArgumentException for another type (PML silently treats unknown types as {@code "all"})
   */
  public TripletMarginMiner(double margin, String typeOfTriplets, BaseDistance distance) {
    super(distance);
    if (!("all".equals(typeOfTriplets) || "hard".equals(typeOfTriplets) || "semihard".equals(typeOfTriplets)
        || "easy".equals(typeOfTriplets))) {
      throw new IllegalArgumentException(
          "type_of_triplets must be one of \"all\", \"hard\", \"semihard\", \"easy\", got " + typeOfTriplets);
    }
    this.margin = margin;
    this.typeOfTriplets = typeOfTriplets;
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    IndicesTuple t = Lmu.allTripletsIndices(labels, refLabels);
    Tensor a = t.get(0);
    Tensor p = t.get(1);
    Tensor n = t.get(2);
    Tensor mat = distance.forward(embeddings, refEmb);
    Tensor ap = Tensors.index2(mat, a, p);
    Tensor an = Tensors.index2(mat, a, n);
    Tensor m = distance.isInverted() ? ap.sub(an) : an.sub(ap);
    Tensor keep;
    if (typeOfTriplets.equals("easy")) {
      keep = m.gt(Tensors.s(margin));
    } else {
      keep = m.le(Tensors.s(margin));
      if (typeOfTriplets.equals("hard")) {
        keep = keep.logical_and(m.le(Tensors.s(0.0)));
      } else if (typeOfTriplets.equals("semihard")) {
        keep = keep.logical_and(m.gt(Tensors.s(0.0)));
      }
    }
    return IndicesTuple.triplets(Tensors.index(a, keep), Tensors.index(p, keep), Tensors.index(n, keep));
  }

  public double margin() {
    return margin;
  }

  public String typeOfTriplets() {
    return typeOfTriplets;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(margin=" + margin + ", type_of_triplets=" + typeOfTriplets + ", distance="
        + distance + ")";
  }

  /** Registry factory: {@code margin}, {@code type_of_triplets}, {@code distance}, {@code collect_stats}. */
  public static TripletMarginMiner fromSpec(Params p) {
    double margin = p.getDouble("margin", DEFAULT_MARGIN);
    String type = p.getString("type_of_triplets", DEFAULT_TYPE_OF_TRIPLETS);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new TripletMarginMiner(margin, type, d);
  }
}
