package org.pml4j.samplers;

import java.util.Arrays;
import java.util.Objects;
import java.util.Random;
import java.util.function.Function;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.miners.BaseMiner;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.tuples.Lmu;

/**
 * PML's {@code TuplesToWeightsSampler}: every pass embeds the dataset (or a random subset of it), mines it, weights
 * each element by how often it appears in the mined tuples ({@link Lmu#convertToWeights}: count / max count; all ones
 * when nothing is mined; 0 outside the subset), and draws {@link #size()} indices with replacement with probability
 * proportional to the weights (PyTorch's {@code WeightedRandomSampler(weights, len, replacement=True)}).
 *
 * <p>In place of PML's model and {@code BaseTester}, the embeddings come from a function of the dataset indices
 * (called once per pass, without autograd) or from a precomputed {@code [N, D]} tensor. Tensors made during a pass
 * are freed at its end.
 */
public final class TuplesToWeightsSampler implements IndexSampler {
  static {
    Torch.ensureLoaded();
  }

  private final Function<int[], Tensor> embed;
  private final BaseMiner miner;
  private final long[] labels;
  private final Integer subsetSize;
  private final Random rng;
  private float[] weights;

  /**
   * @param embed maps dataset indices to their embeddings, {@code [indices.length, D]}
   * @param miner the miner whose tuples set the weights
   * @param labels the dataset's labels, one per index
   * @param subsetSize null (or 0, as PML's truthiness) for the whole dataset; else the number of indices drawn per
   *     pass, and the size of the random subset embedded (with replacement when larger than the dataset, as PML)
   * @param rng the random source for the subset and the weighted draws (null: a new unseeded {@link Random})
   * @throws IllegalArgumentException for empty labels or a negative subset size
   */
  public TuplesToWeightsSampler(Function<int[], Tensor> embed, BaseMiner miner, long[] labels, Integer subsetSize,
      Random rng) {
    this.embed = Objects.requireNonNull(embed, "embed");
    this.miner = Objects.requireNonNull(miner, "miner");
    if (labels == null || labels.length == 0) {
      throw new IllegalArgumentException("labels must not be empty");
    }
    if (subsetSize != null && subsetSize < 0) {
      throw new IllegalArgumentException("subset_size must be >= 0 (or null), got " + subsetSize);
    }
    this.labels = labels.clone();
    this.subsetSize = subsetSize == null || subsetSize == 0 ? null : subsetSize;
    this.rng = SamplerUtil.orNew(rng);
  }

  /**
   * With precomputed embeddings, one row per dataset index.
   *
   * @throws IllegalArgumentException when {@code embeddings} is not {@code [labels.length, D]}
   */
  public TuplesToWeightsSampler(Tensor embeddings, BaseMiner miner, long[] labels, Integer subsetSize, Random rng) {
    this(rowsOf(embeddings, labels), miner, labels, subsetSize, rng);
  }

  /** The whole dataset, an unseeded generator. */
  public TuplesToWeightsSampler(Function<int[], Tensor> embed, BaseMiner miner, long[] labels) {
    this(embed, miner, labels, null, null);
  }

  private static Function<int[], Tensor> rowsOf(Tensor embeddings, long[] labels) {
    Objects.requireNonNull(embeddings, "embeddings");
    if (labels == null || embeddings.dim() != 2 || embeddings.size(0) != labels.length) {
      throw new IllegalArgumentException("embeddings must be [N, D] with N = number of labels ("
          + (labels == null ? "null" : labels.length) + "), got " + Tensors.shapeString(embeddings));
    }
    return idx -> {
      long[] l = new long[idx.length];
      for (int i = 0; i < idx.length; i++) {
        l[i] = idx[i];
      }
      return embeddings.index_select(0, Tensors.longs(l).to(embeddings.device(), ScalarType.Long));
    };
  }

  /** PML's {@code __len__}: the subset size, else the dataset size. */
  @Override
  public int size() {
    return subsetSize != null ? subsetSize : labels.length;
  }

  /**
   * One pass: embed, mine, weight, then {@link #size()} weighted draws with replacement.
   *
   * @throws IllegalArgumentException when the embedding function returns the wrong number of rows
   */
  @Override
  public int[] epoch() {
    int n = labels.length;
    int[] indices;
    if (subsetSize != null) {
      int[] all = new int[n];
      for (int i = 0; i < n; i++) {
        all[i] = i;
      }
      indices = SamplerUtil.safeRandomChoice(all, subsetSize, rng);
    } else {
      indices = new int[n];
      for (int i = 0; i < n; i++) {
        indices[i] = i;
      }
    }
    float[] w = new float[n];
    try (Scope scope = Scope.open(); NoGradGuard g = new NoGradGuard()) {
      Tensor emb = embed.apply(indices.clone());
      if (emb == null || emb.dim() != 2 || emb.size(0) != indices.length) {
        throw new IllegalArgumentException("the embedding function must return [" + indices.length + ", D], got "
            + (emb == null ? "null" : Tensors.shapeString(emb)));
      }
      long[] sub = new long[indices.length];
      for (int i = 0; i < indices.length; i++) {
        sub[i] = labels[indices[i]];
      }
      Tensor subLabels = Tensors.longs(sub).to(emb.device(), ScalarType.Long);
      IndicesTuple tuples = miner.forward(emb, subLabels);
      float[] sw = Tensors.toFloats(Lmu.convertToWeights(tuples, subLabels, ScalarType.Float, false));
      for (int i = 0; i < indices.length; i++) {
        w[indices[i]] = sw[i]; // duplicates (subset with replacement): the last write wins
      }
    }
    this.weights = w;
    return weightedDraws(w, size(), rng);
  }

  /** {@code count} draws with replacement, index {@code i} with probability {@code w[i] / Σ w}. */
  static int[] weightedDraws(float[] w, int count, Random rng) {
    double[] cum = new double[w.length];
    double total = 0;
    for (int i = 0; i < w.length; i++) {
      if (!(w[i] >= 0) || Float.isInfinite(w[i])) {
        throw new IllegalArgumentException("weights must be finite and >= 0, got " + w[i] + " at " + i);
      }
      total += w[i];
      cum[i] = total;
    }
    if (!(total > 0)) {
      throw new IllegalArgumentException("weights sum to 0: nothing to sample");
    }
    int[] out = new int[count];
    for (int k = 0; k < count; k++) {
      double u = rng.nextDouble() * total;
      int i = Arrays.binarySearch(cum, u);
      i = i >= 0 ? i + 1 : -i - 1; // first index with cum > u
      while (i < w.length - 1 && w[i] == 0) { // never land on a zero-weight index
        i++;
      }
      out[k] = Math.min(i, w.length - 1);
    }
    return out;
  }

  /** PML's {@code self.weights}: the weights of the last pass (a copy), or null before the first. */
  public float[] weights() {
    return weights == null ? null : weights.clone();
  }

  public BaseMiner miner() {
    return miner;
  }

  /** The subset size, or null for the whole dataset. */
  public Integer subsetSize() {
    return subsetSize;
  }

  @Override
  public String toString() {
    return "TuplesToWeightsSampler(miner=" + miner + ", n=" + labels.length + ", subset_size=" + subsetSize + ")";
  }
}
