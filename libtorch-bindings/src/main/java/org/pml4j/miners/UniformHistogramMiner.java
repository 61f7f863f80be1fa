package org.pml4j.miners;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code UniformHistogramMiner}: the positive pairs' values are split into {@code numBins} equal-width bins
 * between their minimum and maximum ({@code linspace(min, max, numBins + 1)}, last bin closed), and
 * {@code posPerBin} pairs are drawn uniformly <em>with replacement</em> from every non-empty bin (duplicates are
 * possible); likewise for the negative pairs with {@code negPerBin}. Randomized: uses LibTorch's global generator.
 * A per-bin count of 0 yields no pairs on that side (PML raises in {@code torch.multinomial}).
 */
public class UniformHistogramMiner extends BaseMiner {
  private final int numBins;
  private final int posPerBin;
  private final int negPerBin;

  /** PML's defaults: 100 bins, 10 positive and 10 negative pairs per bin, LpDistance. */
  public UniformHistogramMiner() {
    this(100, 10, 10, null);
  }

  /**
   * @param numBins number of histogram bins (at least 1)
   * @param posPerBin positive pairs drawn per non-empty bin
   * @param negPerBin negative pairs drawn per non-empty bin
   * @param distance null for the default LpDistance
   * @throws IllegalArgumentException if {@code numBins < 1} or a per-bin count is negative
   */
  public UniformHistogramMiner(int numBins, int posPerBin, int negPerBin, BaseDistance distance) {
    super(distance);
    if (numBins < 1) {
      throw new IllegalArgumentException("num_bins must be >= 1, got " + numBins);
    }
    if (posPerBin < 0 || negPerBin < 0) {
      throw new IllegalArgumentException(
          "pos_per_bin and neg_per_bin must be >= 0, got " + posPerBin + " and " + negPerBin);
    }
    this.numBins = numBins;
    this.posPerBin = posPerBin;
    this.negPerBin = negPerBin;
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    Tensor mat = distance.forward(embeddings, refEmb);
    IndicesTuple all = Lmu.allPairsIndices(labels, refLabels);
    Tensor a1 = all.get(0);
    Tensor p = all.get(1);
    Tensor a2 = all.get(2);
    Tensor n = all.get(3);
    if (Tensors.len(a1) > 0) {
      Tensor idx = sampleUniformly(Tensors.index2(mat, a1, p), posPerBin);
      a1 = Tensors.index(a1, idx);
      p = Tensors.index(p, idx);
    }
    if (Tensors.len(a2) > 0) {
      Tensor idx = sampleUniformly(Tensors.index2(mat, a2, n), negPerBin);
      a2 = Tensors.index(a2, idx);
      n = Tensors.index(n, idx);
    }
    return IndicesTuple.pairs(a1, p, a2, n);
  }

  /** Positions into {@code values}: {@code perBin} random draws (with replacement) from each non-empty bin. */
  private Tensor sampleUniformly(Tensor values, int perBin) {
    if (perBin == 0) {
      // PML's torch.multinomial rejects 0 samples; pml4j returns no pairs for that side.
      return empty(values);
    }
    Tensor bins = torch.linspace(Tensors.s(values.min().item_double()), Tensors.s(values.max().item_double()),
        numBins + 1, Tensors.options(Tensors.dtype(values), values));
    List<Tensor> out = new ArrayList<>();
    for (int i = 0; i < numBins; i++) {
      Tensor lo = bins.get(i);
      Tensor hi = bins.get(i + 1);
      Tensor inBin = values.ge(lo).logical_and(i != numBins - 1 ? values.lt(hi) : values.le(hi));
      Tensor members = Tensors.where(inBin)[0];
      if (Tensors.len(members) == 0) {
        continue;
      }
      Tensor draw = torch.multinomial(torch.ones_like(members).to(ScalarType.Float), perBin, true, null);
      out.add(Tensors.index(members, draw));
    }
    if (out.isEmpty()) {
      // Only possible with NaN values; PML's torch.cat of an empty list fails here.
      throw new IllegalArgumentException("UniformHistogramMiner: no pair value falls in the histogram (NaN values?)");
    }
    return Tensors.cat(0, out.toArray(new Tensor[0]));
  }

  public int numBins() {
    return numBins;
  }

  public int posPerBin() {
    return posPerBin;
  }

  public int negPerBin() {
    return negPerBin;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(num_bins=" + numBins + ", pos_per_bin=" + posPerBin + ", neg_per_bin="
        + negPerBin + ", distance=" + distance + ")";
  }

  /**
   * Registry factory: {@code num_bins}, {@code pos_per_bin}, {@code neg_per_bin}, {@code distance},
   * {@code collect_stats}.
   */
  public static UniformHistogramMiner fromSpec(Params p) {
    int bins = p.getInt("num_bins", 100);
    int pos = p.getInt("pos_per_bin", 10);
    int neg = p.getInt("neg_per_bin", 10);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new UniformHistogramMiner(bins, pos, neg, d);
  }
}
