package org.pml4j.distances;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;

/**
 * PML's {@code SNRDistance} (signal-to-noise ratio): {@code var(q_i - r_j) / var(q_i)} with the unbiased variance
 * over the embedding dimension. Memory is O(Nq·Nr·D).
 */
public class SNRDistance extends BaseDistance {
  public SNRDistance() {
    this(DEFAULT_NORMALIZE_EMBEDDINGS, DEFAULT_P, DEFAULT_POWER);
  }

  public SNRDistance(boolean normalizeEmbeddings, double p, double power) {
    super(normalizeEmbeddings, p, power, false);
  }

  @Override
  protected Tensor computeMat(Tensor queryEmb, Tensor refEmb) {
    Tensor anchorVar = queryEmb.var(new long[] {1}, true);
    Tensor diffs = queryEmb.unsqueeze(1).sub(refEmb);
    Tensor pairVar = diffs.var(new long[] {2}, true);
    return pairVar.div(anchorVar.unsqueeze(1));
  }

  @Override
  public Tensor pairwiseDistance(Tensor queryEmb, Tensor refEmb) {
    checkPairwise(queryEmb, refEmb);
    Tensor qVar = queryEmb.var(new long[] {1}, true);
    return queryEmb.sub(refEmb).var(new long[] {1}, true).div(qVar);
  }

  /** Registry factory: {@code normalize_embeddings}, {@code p}, {@code power}, {@code collect_stats}. */
  public static SNRDistance fromSpec(Params p) {
    p.collectStats();
    if (p.getBool("is_inverted", false)) {
      throw new IllegalArgumentException("SNRDistance cannot be inverted");
    }
    return new SNRDistance(p.getBool("normalize_embeddings", DEFAULT_NORMALIZE_EMBEDDINGS),
        p.getDouble("p", DEFAULT_P), p.getDouble("power", DEFAULT_POWER));
  }
}
