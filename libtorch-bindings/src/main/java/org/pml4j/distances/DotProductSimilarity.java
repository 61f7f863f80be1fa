package org.pml4j.distances;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;

/**
 * PML's {@code DotProductSimilarity}: {@code q @ r.T}. Like PML it still L2-normalizes by default, which makes it
 * equal to {@link CosineSimilarity}; pass {@code normalizeEmbeddings = false} for raw dot products.
 */
public class DotProductSimilarity extends BaseDistance {
  public DotProductSimilarity() {
    this(DEFAULT_NORMALIZE_EMBEDDINGS, DEFAULT_P, DEFAULT_POWER);
  }

  public DotProductSimilarity(boolean normalizeEmbeddings, double p, double power) {
    super(normalizeEmbeddings, p, power, true);
  }

  @Override
  protected Tensor computeMat(Tensor queryEmb, Tensor refEmb) {
    return queryEmb.matmul(refEmb.t());
  }

  @Override
  public Tensor pairwiseDistance(Tensor queryEmb, Tensor refEmb) {
    checkPairwise(queryEmb, refEmb);
    return queryEmb.mul(refEmb).sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
  }

  /** Registry factory: {@code normalize_embeddings}, {@code p}, {@code power}, {@code collect_stats}. */
  public static DotProductSimilarity fromSpec(Params p) {
    p.collectStats();
    return new DotProductSimilarity(p.getBool("normalize_embeddings", DEFAULT_NORMALIZE_EMBEDDINGS),
        p.getDouble("p", DEFAULT_P), p.getDouble("power", DEFAULT_POWER));
  }
}
