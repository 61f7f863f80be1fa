package org.pml4j.distances;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * PML's {@code LpDistance}: {@code torch.cdist(q, r, p)}. The default is the Euclidean distance between L2-normalized
 * embeddings (values in [0, 2]); {@code power = 2} gives squared distances.
 */
public class LpDistance extends BaseDistance {
  /** {@code LpDistance()}: p = 2, power = 1, normalized. */
  public LpDistance() {
    this(DEFAULT_NORMALIZE_EMBEDDINGS, DEFAULT_P, DEFAULT_POWER);
  }

  public LpDistance(boolean normalizeEmbeddings, double p, double power) {
    super(normalizeEmbeddings, p, power, false);
  }

  @Override
  protected Tensor computeMat(Tensor queryEmb, Tensor refEmb) {
    return torch.cdist(queryEmb, refEmb, p, new LongOptional());
  }

  @Override
  public Tensor pairwiseDistance(Tensor queryEmb, Tensor refEmb) {
    checkPairwise(queryEmb, refEmb);
    // F.pairwise_distance(x, y, p, eps=1e-6): || x - y + eps ||_p
    return torch.pairwise_distance(queryEmb, refEmb, p, 1e-6, false);
  }

  /** Registry factory: {@code normalize_embeddings}, {@code p}, {@code power}, {@code collect_stats}. */
  public static LpDistance fromSpec(Params p) {
    p.collectStats();
    if (p.getBool("is_inverted", false)) {
      throw new IllegalArgumentException("LpDistance cannot be inverted");
    }
    return new LpDistance(p.getBool("normalize_embeddings", DEFAULT_NORMALIZE_EMBEDDINGS),
        p.getDouble("p", DEFAULT_P), p.getDouble("power", DEFAULT_POWER));
  }
}
