package org.pml4j.miners;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code AngularMiner}: of all triplets, those whose angle at the negative,
 * {@code atan(‖a − p‖ / (2·‖n − (a + p)/2‖))}, exceeds {@code angle} (given in degrees). The angle is computed on the
 * raw embeddings (the distance's {@code pairwise_distance}, without normalization), as in PML. The distance must be
 * {@code LpDistance(p=2, power=1, normalize_embeddings=True)}.
 */
public class AngularMiner extends BaseMiner {
  private final double angle;
  private final double angleRadians;

  /** PML's default {@code angle}, in degrees. */
  public static final double DEFAULT_ANGLE = 20;

  /** PML's defaults: {@link #DEFAULT_ANGLE}, LpDistance. */
  public AngularMiner() {
    this(DEFAULT_ANGLE, null);
  }

  /**
   * @param angle the threshold in degrees
   * @param distance null for the default LpDistance
   * @throws IllegalArgumentException if the distance is not LpDistance(p=2, power=1, normalize_embeddings=True)
   */
  public AngularMiner(double angle, BaseDistance distance) {
    super(distance);
    DistanceRequirements.require(getClass().getSimpleName(), this.distance, LpDistance.class, 2, 1, true);
    this.angle = angle;
    this.angleRadians = Math.toRadians(angle);
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    IndicesTuple t = Lmu.allTripletsIndices(labels, refLabels);
    Tensor a = t.get(0);
    Tensor p = t.get(1);
    Tensor n = t.get(2);
    Tensor anchors = Tensors.index(embeddings, a);
    Tensor positives = Tensors.index(refEmb, p);
    Tensor negatives = Tensors.index(refEmb, n);
    Tensor centers = anchors.add(positives).div(Tensors.s(2.0));
    Tensor apDist = distance.pairwiseDistance(anchors, positives);
    Tensor ncDist = distance.pairwiseDistance(negatives, centers);
    Tensor angles = torch.atan(apDist.div(ncDist.mul(Tensors.s(2.0))));
    Tensor keep = angles.gt(Tensors.s(angleRadians));
    return IndicesTuple.triplets(Tensors.index(a, keep), Tensors.index(p, keep), Tensors.index(n, keep));
  }

  /** The threshold in degrees. */
  public double angle() {
    return angle;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(angle=" + angle + ", distance=" + distance + ")";
  }

  /** Registry factory: {@code angle} (degrees), {@code distance}, {@code collect_stats}. */
  public static AngularMiner fromSpec(Params p) {
    double angle = p.getDouble("angle", DEFAULT_ANGLE);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new AngularMiner(angle, d);
  }
}
