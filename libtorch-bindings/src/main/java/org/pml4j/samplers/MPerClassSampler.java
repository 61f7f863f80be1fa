package org.pml4j.samplers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Random;

/**
 * PML's {@code MPerClassSampler}: every pass is a list of indices, {@code m} per class (with replacement when a class
 * has fewer than {@code m} samples).
 *
 * <p>Without {@code batchSize}, each round shuffles the classes and takes {@code m} samples of every class; the pass
 * length is {@code lengthBeforeNewIter} rounded down to a multiple of {@code m · #classes}. With {@code batchSize},
 * each round takes {@code m} samples of each of {@code batchSize / m} distinct classes, so every consecutive chunk of
 * {@code batchSize} indices (a batch, when the data loader uses the same batch size without shuffling) holds exactly
 * {@code batchSize / m} classes, {@code m} samples each; the pass length is rounded down to a multiple of
 * {@code batchSize}.
 *
 * <p>As in PML: when there is no {@code batchSize} and {@code m · #classes > lengthBeforeNewIter}, a pass is one full
 * round ({@code m · #classes} indices) and thus longer than {@link #size()}, which reports PML's {@code __len__}.
 */
public final class MPerClassSampler implements IndexSampler {
  private final int mPerClass;
  private final Integer batchSize;
  private final LinkedHashMap<Long, int[]> labelsToIndices;
  /** PML's {@code self.labels}: shuffled in place at every round, so the order carries over between rounds. */
  private final List<Long> labels;
  private final int lengthOfSinglePass;
  private final int listSize;
  private final Random rng;

  /** PML's default {@code length_before_new_iter}: the nominal pass length. */
  public static final int DEFAULT_LENGTH_BEFORE_NEW_ITER = 100000;

  /** No batch size, {@link #DEFAULT_LENGTH_BEFORE_NEW_ITER}, an unseeded generator. */
  public MPerClassSampler(long[] labels, int m) {
    this(labels, m, null, DEFAULT_LENGTH_BEFORE_NEW_ITER, null);
  }

  /**
   * @param labels the dataset's labels, one per index
   * @param m samples per class
   * @param batchSize null, or the batch size the data loader will use
   * @param lengthBeforeNewIter the nominal pass length (PML's {@code length_before_new_iter})
   * @param rng the random source (null: a new unseeded {@link Random})
   * @throws IllegalArgumentException on PML's assertions: {@code length_before_new_iter >= batch_size},
   *     {@code m * (number of unique labels) must be >= batch_size},
   *     {@code m_per_class must divide batch_size without any remainder}; and (beyond PML, where PML fails later)
   *     for empty labels, {@code m < 1}, {@code batch_size < 1} or {@code length_before_new_iter < 1}
   */
  public MPerClassSampler(long[] labels, int m, Integer batchSize, int lengthBeforeNewIter, Random rng) {
    if (labels == null || labels.length == 0) {
      throw new IllegalArgumentException("labels must not be empty");
    }
    if (m < 1) {
      throw new IllegalArgumentException("m must be >= 1, got " + m);
    }
    if (batchSize != null && batchSize < 1) {
      throw new IllegalArgumentException("batch_size must be >= 1, got " + batchSize);
    }
    if (lengthBeforeNewIter < 1) {
      throw new IllegalArgumentException("length_before_new_iter must be >= 1, got " + lengthBeforeNewIter);
    }
    this.mPerClass = m;
    this.batchSize = batchSize;
    this.labelsToIndices = SamplerUtil.labelsToIndices(labels);
    this.labels = new ArrayList<>(labelsToIndices.keySet());
    this.rng = SamplerUtil.orNew(rng);
    long single = (long) m * this.labels.size();
    if (single > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("m * (number of unique labels) = " + single + " is too large");
    }
    this.lengthOfSinglePass = (int) single;
    int size = lengthBeforeNewIter;
    if (batchSize == null) {
      if (lengthOfSinglePass < size) {
        size -= size % lengthOfSinglePass;
      }
    } else {
      if (size < batchSize) {
        throw new IllegalArgumentException("length_before_new_iter (" + size + ") must be >= batch_size ("
            + batchSize + ")");
      }
      if (lengthOfSinglePass < batchSize) {
        throw new IllegalArgumentException("m * (number of unique labels) must be >= batch_size: " + m + " * "
            + this.labels.size() + " < " + batchSize);
      }
      if (batchSize % m != 0) {
        throw new IllegalArgumentException("m_per_class must divide batch_size without any remainder: "
            + batchSize + " % " + m + " != 0");
      }
      size -= size % batchSize;
    }
    this.listSize = size;
  }

  /** As {@link #MPerClassSampler(long[], int, Integer, int, Random)} with int labels. */
  public MPerClassSampler(int[] labels, int m, Integer batchSize, int lengthBeforeNewIter, Random rng) {
    this(SamplerUtil.widen(labels), m, batchSize, lengthBeforeNewIter, rng);
  }

  /** PML's {@code __len__}: the pass length (see the class comment for the one case where a pass is longer). */
  @Override
  public int size() {
    return listSize;
  }

  /** PML's {@code calculate_num_iters}: rounds per pass. */
  int numIters() {
    int divisor = batchSize == null ? lengthOfSinglePass : batchSize;
    return divisor < listSize ? listSize / divisor : 1;
  }

  @Override
  public int[] epoch() {
    int classesPerRound = batchSize == null ? labels.size() : batchSize / mPerClass;
    int iters = numIters();
    int[] out = new int[Math.max(listSize, iters * classesPerRound * mPerClass)];
    int i = 0;
    for (int it = 0; it < iters; it++) {
      Collections.shuffle(labels, rng);
      for (int c = 0; c < classesPerRound; c++) {
        int[] drawn = SamplerUtil.safeRandomChoice(labelsToIndices.get(labels.get(c)), mPerClass, rng);
        System.arraycopy(drawn, 0, out, i, mPerClass);
        i += mPerClass;
      }
    }
    // PML writes slices into [0] * list_size; writing past the end extends the list (the one longer-pass case).
    return out;
  }

  public int mPerClass() {
    return mPerClass;
  }

  /** The batch size, or null. */
  public Integer batchSize() {
    return batchSize;
  }

  /** The number of distinct labels. */
  public int numClasses() {
    return labels.size();
  }

  @Override
  public String toString() {
    return "MPerClassSampler(m=" + mPerClass + ", batch_size=" + batchSize + ", classes=" + labels.size()
        + ", length=" + listSize + ")";
  }
}
