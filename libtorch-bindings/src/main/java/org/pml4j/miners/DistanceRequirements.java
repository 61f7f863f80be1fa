package org.pml4j.miners;

import org.pml4j.distances.BaseDistance;

/** PML's {@code c_f.assert_distance_type} for miners, with PML's messages (as IllegalArgumentException). */
final class DistanceRequirements {
  private DistanceRequirements() {}

  /**
   * Requires {@code distance} to be a {@code type} with the given {@code p}, {@code power} and
   * {@code normalize_embeddings}.
   *
   * @param owner the miner's class name, for the message
   */
  static void require(String owner, BaseDistance distance, Class<? extends BaseDistance> type, double p,
      double power, boolean normalizeEmbeddings) {
    if (!type.isInstance(distance)) {
      throw new IllegalArgumentException(owner + " requires the distance metric to be " + type.getSimpleName()
          + ", got " + distance.getClass().getSimpleName());
    }
    if (distance.p() != p) {
      throw new IllegalArgumentException(owner + " requires distance.p to be " + fmt(p) + ", got " + fmt(distance.p()));
    }
    if (distance.power() != power) {
      throw new IllegalArgumentException(
          owner + " requires distance.power to be " + fmt(power) + ", got " + fmt(distance.power()));
    }
    if (distance.normalizeEmbeddings() != normalizeEmbeddings) {
      throw new IllegalArgumentException(owner + " requires distance.normalize_embeddings to be "
          + (normalizeEmbeddings ? "True" : "False"));
    }
  }

  private static String fmt(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}
