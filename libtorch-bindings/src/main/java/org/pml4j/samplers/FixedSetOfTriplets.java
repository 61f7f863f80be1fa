package org.pml4j.samplers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Random;

/**
 * PML's {@code FixedSetOfTriplets}: draws {@code numTriplets} triplets {@code (anchor, positive, negative)} once, at
 * construction; every pass shuffles their order and yields them flattened ({@code a0, p0, n0, a1, p1, n1, …}), so a
 * batch size that is a multiple of 3 sees whole triplets.
 *
 * <p>A triplet is drawn by picking two distinct classes uniformly (anchor class, negative class), two samples of the
 * anchor class (distinct when the class has at least two samples; the same sample twice otherwise, as PML's
 * {@code safe_random_choice}) and one sample of the negative class.
 */
public final class FixedSetOfTriplets implements IndexSampler {
  private final int numTriplets;
  /** Rows {@code (a, p, n)}; shuffled in place at every pass, as PML. */
  private final int[][] triplets;
  private final Random rng;

  /** With an unseeded generator. */
  public FixedSetOfTriplets(long[] labels, int numTriplets) {
    this(labels, numTriplets, null);
  }

  /**
   * @param labels the dataset's labels, one per index
   * @param numTriplets how many triplets to draw
   * @param rng the random source (null: a new unseeded {@link Random})
   * @throws IllegalArgumentException on PML's assertion {@code num_triplets > 0}, and when there are fewer than two
   *     distinct labels (PML fails in numpy's {@code choice})
   */
  public FixedSetOfTriplets(long[] labels, int numTriplets, Random rng) {
    if (labels == null) {
      throw new IllegalArgumentException("labels must not be null");
    }
    if (numTriplets <= 0) {
      throw new IllegalArgumentException("num_triplets must be > 0, got " + numTriplets);
    }
    LinkedHashMap<Long, int[]> byLabel = SamplerUtil.labelsToIndices(labels);
    if (byLabel.size() < 2) {
      throw new IllegalArgumentException("FixedSetOfTriplets needs at least 2 distinct labels, got "
          + byLabel.size());
    }
    this.numTriplets = numTriplets;
    this.rng = SamplerUtil.orNew(rng);
    List<int[]> lists = new ArrayList<>(byLabel.values());
    int k = lists.size();
    this.triplets = new int[numTriplets][];
    for (int i = 0; i < numTriplets; i++) {
      int ac = this.rng.nextInt(k);
      int nc = this.rng.nextInt(k - 1);
      if (nc >= ac) {
        nc++;
      }
      int[] ap = SamplerUtil.safeRandomChoice(lists.get(ac), 2, this.rng);
      int[] negatives = lists.get(nc);
      triplets[i] = new int[] {ap[0], ap[1], negatives[this.rng.nextInt(negatives.length)]};
    }
  }

  /** As {@link #FixedSetOfTriplets(long[], int, Random)} with int labels. */
  public FixedSetOfTriplets(int[] labels, int numTriplets, Random rng) {
    this(SamplerUtil.widen(labels), numTriplets, rng);
  }

  /** PML's {@code __len__}: {@code 3 · numTriplets}. */
  @Override
  public int size() {
    return 3 * numTriplets;
  }

  /** Shuffles the triplets' order, then flattens them. */
  @Override
  public int[] epoch() {
    for (int i = triplets.length - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int[] t = triplets[i];
      triplets[i] = triplets[j];
      triplets[j] = t;
    }
    int[] out = new int[3 * numTriplets];
    for (int i = 0; i < numTriplets; i++) {
      System.arraycopy(triplets[i], 0, out, 3 * i, 3);
    }
    return out;
  }

  /** The triplets in their current order, one {@code {a, p, n}} row each (copies). */
  public int[][] triplets() {
    int[][] out = new int[numTriplets][];
    for (int i = 0; i < numTriplets; i++) {
      out[i] = triplets[i].clone();
    }
    return out;
  }

  public int numTriplets() {
    return numTriplets;
  }

  @Override
  public String toString() {
    return "FixedSetOfTriplets(num_triplets=" + numTriplets + ")";
  }
}
