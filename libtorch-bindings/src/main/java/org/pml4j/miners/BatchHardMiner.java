package org.pml4j.miners;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code BatchHardMiner}: for every anchor that has both, its hardest positive (farthest) and hardest negative
 * (closest), returned as triplets {@code (a, p, n)} (unlike its parent {@link BatchEasyHardMiner}, which returns
 * pairs).
 */
public class BatchHardMiner extends BatchEasyHardMiner {

  /** PML's defaults: LpDistance. */
  public BatchHardMiner() {
    this(null);
  }

  /** @param distance null for the default LpDistance */
  public BatchHardMiner(BaseDistance distance) {
    super(Strategy.HARD, Strategy.HARD, null, null, distance);
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    IndicesTuple pairs = minePairs(embeddings, labels, refEmb, refLabels);
    return IndicesTuple.triplets(pairs.get(0), pairs.get(1), pairs.get(3));
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(distance=" + distance + ")";
  }

  /** Registry factory: {@code distance}, {@code collect_stats}. */
  public static BatchHardMiner fromSpec(Params p) {
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new BatchHardMiner(d);
  }
}
