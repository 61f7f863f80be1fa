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

  /** PML's default {@code num_bins}. */
  public static final int DEFAULT_NUM_BINS = 100;
  /** PML's default {@code pos_per_bin}. */
  public static final int DEFAULT_POS_PER_BIN = 10;
  /** PML's default {@code neg_per_bin}. */
  public static final int DEFAULT_NEG_PER_BIN = 10;

  /**
   * PML's defaults: {@link #DEFAULT_NUM_BINS}, {@link #DEFAULT_POS_PER_BIN}, {@link #DEFAULT_NEG_PER_BIN},
   * LpDistance.
   */
  public UniformHistogramMiner() {
    this(DEFAULT_NUM_BINS, DEFAULT_POS_PER_BIN, DEFAULT_NEG_PER_BIN, null);
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
    ScalarType dtype = Tensors.dtype(values);
    double min = values.min().item_double();
    double max = values.max().item_double();
    // PML's bins come from torch.linspace; PyTorch 1.13's CPU kernel rounds some edges differently from LibTorch's,
    // the last one included (it can fall an ulp below the maximum, which then belongs to no bin).
    double[] edges = dtype == ScalarType.Double ? linspaceTorch113(min, max, numBins + 1)
        : dtype == ScalarType.Float ? linspaceTorch113((float) min, (float) max, numBins + 1) : null;
    Tensor bins = edges != null ? null : torch.linspace(Tensors.s(min), Tensors.s(max), numBins + 1,
        Tensors.options(dtype, values));
    List<Tensor> out = new ArrayList<>();
    for (int i = 0; i < numBins; i++) {
      Tensor inBin;
      if (edges != null) {
        org.bytedeco.pytorch.Scalar lo = Tensors.s(edges[i]);
        org.bytedeco.pytorch.Scalar hi = Tensors.s(edges[i + 1]);
        inBin = values.ge(lo).logical_and(i != numBins - 1 ? values.lt(hi) : values.le(hi));
      } else {
        Tensor lo = bins.get(i);
        Tensor hi = bins.get(i + 1);
        inBin = values.ge(lo).logical_and(i != numBins - 1 ? values.lt(hi) : values.le(hi));
      }
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

  /**
   * {@code torch.linspace(start, end, steps)} in float64 exactly as PyTorch 1.13's CPU kernel computes it (the one
   * PML's reference values come from, AVX2 dispatch): elements are produced in pairs of 4-wide vectors, each vector
   * from a base {@code fma(step, i, start)} (first half) or {@code fma(-step, steps - 1 - i, end)} (second half) plus
   * {@code k * step}; the elements after the last full pair of vectors are computed one by one with the same fused
   * formulas. So the last edge differs from {@code end} by an ulp whenever it falls inside a vector, e.g. with 16 or
   * 24 steps. LibTorch 2.x computes every element with the scalar formulas, which always end exactly at {@code end}.
   */
  static double[] linspaceTorch113(double start, double end, int steps) {
    double[] out = new double[steps];
    if (steps == 1) {
      out[0] = start;
      return out;
    }
    final int width = 4;
    double step = (end - start) / (steps - 1);
    int half = steps / 2;
    int i = 0;
    for (; i <= steps - 2 * width; i += 2 * width) {
      for (int c = i; c < i + 2 * width; c += width) {
        double base = c < half ? Math.fma(step, c, start) : Math.fma(-step, steps - c - 1, end);
        for (int k = 0; k < width; k++) {
          out[c + k] = k == 0 ? base : base + k * step;
        }
      }
    }
    for (; i < steps; i++) {
      out[i] = i < half ? Math.fma(step, i, start) : Math.fma(-step, steps - i - 1, end);
    }
    return out;
  }

  /** As {@link #linspaceTorch113(double, double, int)} in float32 arithmetic (8-wide vectors). */
  static double[] linspaceTorch113(float start, float end, int steps) {
    double[] out = new double[steps];
    if (steps == 1) {
      out[0] = start;
      return out;
    }
    final int width = 8;
    float step = (end - start) / (steps - 1);
    int half = steps / 2;
    int i = 0;
    for (; i <= steps - 2 * width; i += 2 * width) {
      for (int c = i; c < i + 2 * width; c += width) {
        float base = c < half ? Math.fma(step, (float) c, start) : Math.fma(-step, (float) (steps - c - 1), end);
        for (int k = 0; k < width; k++) {
          out[c + k] = k == 0 ? base : base + k * step;
        }
      }
    }
    for (; i < steps; i++) {
      out[i] = i < half ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (steps - i - 1), end);
    }
    return out;
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
    int bins = p.getInt("num_bins", DEFAULT_NUM_BINS);
    int pos = p.getInt("pos_per_bin", DEFAULT_POS_PER_BIN);
    int neg = p.getInt("neg_per_bin", DEFAULT_NEG_PER_BIN);
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new UniformHistogramMiner(bins, pos, neg, d);
  }
}
