package org.pml4j.distances;

import org.pml4j.spec.Params;

/** PML's {@code CosineSimilarity}: a {@link DotProductSimilarity} that always normalizes (with {@code p}). */
public class CosineSimilarity extends DotProductSimilarity {
  public CosineSimilarity() {
    this(DEFAULT_P, DEFAULT_POWER);
  }

  public CosineSimilarity(double p, double power) {
    super(true, p, power);
  }

  /** Registry factory: {@code p}, {@code power}, {@code collect_stats} (normalization is always on, as in PML). */
  public static CosineSimilarity fromSpec(Params p) {
    p.collectStats();
    if (p.has("normalize_embeddings")) {
      throw new IllegalArgumentException(
          "CosineSimilarity always normalizes; normalize_embeddings cannot be given (PML raises the same)");
    }
    return new CosineSimilarity(p.getDouble("p", DEFAULT_P), p.getDouble("power", DEFAULT_POWER));
  }
}
