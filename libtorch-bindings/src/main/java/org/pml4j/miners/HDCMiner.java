package org.pml4j.miners;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Owned;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code HDCMiner} (Hard-Aware Deeply Cascaded embeddings): keeps the hardest {@code ceil(filterPercentage·P)}
 * of the P positive pairs (largest distances) and likewise of the negative pairs (smallest distances); flipped for
 * similarities.
 *
 * <p>Stateful, as in PML: after {@link #setIdxExternally(IndicesTuple, Tensor)} the miner filters that tuple instead
 * of all pairs of the batch, and each call replaces the stored tuple by its filtered version (so repeated calls keep
 * narrowing it) until {@link #resetIdx()}. Not thread-safe.
 *
 * <p><b>Ties at the cut-off.</b> The selection is {@code topk} of {@code k = ceil(filterPercentage * P)}, as PML.
 * When the reference contains the batch (no {@code ref_emb}, or {@link org.pml4j.losses.CrossBatchMemory}, which
 * enqueues the batch before mining), the pairs {@code (i, j)} and {@code (j, i)} have bit-identical distances; if the
 * cut-off falls between two such equal values, either pair is a correct top-k, and which one {@code topk} keeps is
 * unspecified (PyTorch's as well as LibTorch's): float32 and float64, or PyTorch 1.13 and LibTorch 2.10, may keep
 * different ones, which moves that pair's loss term from one anchor's gradient to the other's.
 * {@code HDCMinerTieTest} shows a seeded case.
 */
public class HDCMiner extends BaseMiner implements Owned {
  private final double filterPercentage;
  private Tensor a1;
  private Tensor p;
  private Tensor a2;
  private Tensor n;
  private boolean wasSetExternally;

  /** PML's default {@code filter_percentage}: the hardest half of the pairs. */
  public static final double DEFAULT_FILTER_PERCENTAGE = 0.5;

  /** PML's defaults: {@link #DEFAULT_FILTER_PERCENTAGE}, LpDistance. */
  public HDCMiner() {
    this(DEFAULT_FILTER_PERCENTAGE, null);
  }

  /**
   * @param filterPercentage the fraction of positive and of negative pairs kept, in {@code [0, 1]}
   * @param distance null for the default LpDistance
   * @throws IllegalArgumentException if {@code filterPercentage} is outside {@code [0, 1]} (PML fails later, in
   *     {@code topk})
   */
  public HDCMiner(double filterPercentage, BaseDistance distance) {
    super(distance);
    if (!(filterPercentage >= 0 && filterPercentage <= 1)) {
      throw new IllegalArgumentException("filter_percentage must be in [0, 1], got " + filterPercentage);
    }
    this.filterPercentage = filterPercentage;
    resetIdx();
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    Tensor mat = distance.forward(embeddings, refEmb);
    Tensor[] idx;
    if (wasSetExternally) {
      idx = new Tensor[] {a1, p, a2, n};
    } else {
      idx = Lmu.allPairsIndices(labels, refLabels).tensors();
    }
    for (int side = 0; side < 2; side++) {
      Tensor anchor = idx[2 * side];
      Tensor other = idx[2 * side + 1];
      long numPairs = Tensors.len(anchor);
      if (numPairs > 0) {
        Tensor pairs = Tensors.index2(mat, anchor, other);
        long k = (long) Math.ceil(filterPercentage * numPairs);
        boolean positive = side == 0;
        boolean largest = distance.isInverted() != positive;
        Tensor keep = pairs.topk(k, -1, largest, true).get1();
        idx[2 * side] = Tensors.index(anchor, keep);
        idx[2 * side + 1] = Tensors.index(other, keep);
      }
    }
    if (wasSetExternally) {
      // PML stores the filtered tuple: the next call filters it again.
      a1 = natives.replace(a1, idx[0]);
      p = natives.replace(p, idx[1]);
      a2 = natives.replace(a2, idx[2]);
      n = natives.replace(n, idx[3]);
    }
    return IndicesTuple.pairs(idx[0], idx[1], idx[2], idx[3]);
  }

  /**
   * PML's {@code set_idx_externally}: later calls filter this tuple (converted to pairs; triplets {@code (a, p, n)}
   * become {@code (a, p, a, n)}) instead of all pairs of the batch, until {@link #resetIdx()}. The tuple must index
   * the embeddings (and the reference set) of those calls.
   *
   * @param labels accepted for PML's signature; not needed to convert a given tuple
   */
  public void setIdxExternally(IndicesTuple externalIndicesTuple, Tensor labels) {
    if (externalIndicesTuple == null) {
      throw new IllegalArgumentException("HDCMiner.setIdxExternally needs an indices tuple");
    }
    IndicesTuple t = Lmu.convertToPairs(externalIndicesTuple, labels, null);
    a1 = natives.replace(a1, t.get(0).to(ScalarType.Long).clone());
    p = natives.replace(p, t.get(1).to(ScalarType.Long).clone());
    a2 = natives.replace(a2, t.get(2).to(ScalarType.Long).clone());
    n = natives.replace(n, t.get(3).to(ScalarType.Long).clone());
    wasSetExternally = true;
  }

  /** PML's {@code reset_idx}: back to mining all pairs of each batch. */
  public void resetIdx() {
    a1 = natives.free(a1);
    p = natives.free(p);
    a2 = natives.free(a2);
    n = natives.free(n);
    wasSetExternally = false;
  }

  /** Whether a tuple set by {@link #setIdxExternally} is in use. */
  public boolean wasSetExternally() {
    return wasSetExternally;
  }

  public double filterPercentage() {
    return filterPercentage;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(filter_percentage=" + filterPercentage + ", distance=" + distance + ")";
  }

  /** Registry factory: {@code filter_percentage}, {@code distance}, {@code collect_stats}. */
  public static HDCMiner fromSpec(Params p) {
    double fp = p.getDouble("filter_percentage", DEFAULT_FILTER_PERCENTAGE);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new HDCMiner(fp, d);
  }

  // ---------------------------------------------------------------- native lifetimes

  /**
   * The owner of the tuple set by {@link #setIdxExternally} (filtered at each call): a trainer adopts it, so
   * closing the trainer frees them.
   */
  private final Owner natives = new Owner();

  @Override
  public final Owner natives() {
    return natives;
  }
}
