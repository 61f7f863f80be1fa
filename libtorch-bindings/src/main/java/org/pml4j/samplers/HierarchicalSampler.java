package org.pml4j.samplers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * PML's {@code HierarchicalSampler}, a <em>batch</em> sampler over two-level labels (class and super-class).
 *
 * <p>For every combination of {@code superClassesPerBatch} super-classes, {@code batchesPerSuperTuple} batches are
 * made. A batch is one sub-batch of up to {@code batchSize / superClassesPerBatch} indices per super-class of the
 * combination; a sub-batch is filled by visiting that super-class's classes in random order and taking
 * {@code samplesPerClass} samples (all of a class's samples when null, PML's {@code "all"}) of each class that still
 * fits. Batches can therefore be shorter than {@code batchSize}. Each batch is shuffled, and so is the list of batches.
 * The batches are drawn at construction and again at every {@link #iterator()}.
 *
 * <p>Super-classes are combined in ascending label order (PML iterates a Python {@code set}, whose order is
 * unspecified; it is ascending for small non-negative integers).
 */
public final class HierarchicalSampler implements Iterable<int[]> {
  private final int batchSize;
  private final Integer samplesPerClass;
  private final int batchesPerSuperTuple;
  private final int superClassesPerBatch;
  private final int subBatchLen;
  /** super label → (class label → indices), classes in order of first appearance. */
  private final TreeMap<Long, LinkedHashMap<Long, int[]>> superImageLists;
  private final List<long[]> superTuples;
  private final Random rng;
  private List<int[]> batches;

  /** PML's default {@code batches_per_super_tuple}. */
  public static final int DEFAULT_BATCHES_PER_SUPER_TUPLE = 4;
  /** PML's default {@code super_classes_per_batch}. */
  public static final int DEFAULT_SUPER_CLASSES_PER_BATCH = 2;
  /** PML's default {@code inner_label}: the label column of the classes. */
  public static final int DEFAULT_INNER_LABEL = 0;
  /** PML's default {@code outer_label}: the label column of the super-classes. */
  public static final int DEFAULT_OUTER_LABEL = 1;

  /**
   * PML's defaults: {@link #DEFAULT_BATCHES_PER_SUPER_TUPLE}, {@link #DEFAULT_SUPER_CLASSES_PER_BATCH},
   * {@link #DEFAULT_INNER_LABEL}, {@link #DEFAULT_OUTER_LABEL}; an unseeded generator.
   */
  public HierarchicalSampler(long[][] labels, int batchSize, Integer samplesPerClass) {
    this(labels, batchSize, samplesPerClass, DEFAULT_BATCHES_PER_SUPER_TUPLE, DEFAULT_SUPER_CLASSES_PER_BATCH,
        DEFAULT_INNER_LABEL, DEFAULT_OUTER_LABEL, null);
  }

  /**
   * @param labels one row per element, one column per level of the hierarchy
   * @param batchSize the batch size
   * @param samplesPerClass samples taken per class, or null for all of them (PML's {@code "all"})
   * @param batchesPerSuperTuple batches per combination of super-classes
   * @param superClassesPerBatch super-classes per batch
   * @param innerLabel column of the class labels (negative: from the end, as numpy)
   * @param outerLabel column of the super-class labels (negative: from the end)
   * @param rng the random source (null: a new unseeded {@link Random})
   * @throws IllegalArgumentException on PML's assertions ({@code batch_size should be a multiple of N},
   *     {@code samples_per_class > 0}, {@code batch_size not a multiple of samples_per_class}), and beyond PML for
   *     empty or ragged labels, a column out of range, {@code batch_size < 1}, {@code super_classes_per_batch < 1}
   *     or {@code batches_per_super_tuple < 0}
   */
  public HierarchicalSampler(long[][] labels, int batchSize, Integer samplesPerClass, int batchesPerSuperTuple,
      int superClassesPerBatch, int innerLabel, int outerLabel, Random rng) {
    if (labels == null || labels.length == 0) {
      throw new IllegalArgumentException("labels must not be empty");
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch_size must be >= 1, got " + batchSize);
    }
    if (superClassesPerBatch < 1) {
      throw new IllegalArgumentException("super_classes_per_batch must be >= 1, got " + superClassesPerBatch);
    }
    if (batchesPerSuperTuple < 0) {
      throw new IllegalArgumentException("batches_per_super_tuple must be >= 0, got " + batchesPerSuperTuple);
    }
    if (batchSize % superClassesPerBatch != 0) {
      throw new IllegalArgumentException("batch_size should be a multiple of " + superClassesPerBatch);
    }
    this.batchSize = batchSize;
    this.samplesPerClass = samplesPerClass;
    this.batchesPerSuperTuple = batchesPerSuperTuple;
    this.superClassesPerBatch = superClassesPerBatch;
    this.subBatchLen = batchSize / superClassesPerBatch;
    if (samplesPerClass != null) {
      if (samplesPerClass <= 0) {
        throw new IllegalArgumentException("samples_per_class must be > 0 (or null for all), got "
            + samplesPerClass);
      }
      if (subBatchLen % samplesPerClass != 0) {
        throw new IllegalArgumentException("batch_size not a multiple of samples_per_class: sub-batch length "
            + subBatchLen + ", samples_per_class " + samplesPerClass);
      }
    }
    if (labels[0] == null || labels[0].length == 0) {
      throw new IllegalArgumentException("labels rows must have at least one column");
    }
    int levels = labels[0].length;
    int inner = column(innerLabel, levels, "inner_label");
    int outer = column(outerLabel, levels, "outer_label");
    TreeMap<Long, LinkedHashMap<Long, List<Integer>>> lists = new TreeMap<>();
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] == null || labels[i].length != levels) {
        throw new IllegalArgumentException("labels must be a rectangular matrix: row " + i + " differs from row 0");
      }
      lists.computeIfAbsent(labels[i][outer], k -> new LinkedHashMap<>())
          .computeIfAbsent(labels[i][inner], k -> new ArrayList<>()).add(i);
    }
    this.superImageLists = new TreeMap<>();
    for (Map.Entry<Long, LinkedHashMap<Long, List<Integer>>> e : lists.entrySet()) {
      LinkedHashMap<Long, int[]> m = new LinkedHashMap<>();
      for (Map.Entry<Long, List<Integer>> c : e.getValue().entrySet()) {
        m.put(c.getKey(), c.getValue().stream().mapToInt(Integer::intValue).toArray());
      }
      superImageLists.put(e.getKey(), m);
    }
    this.superTuples = combinations(new ArrayList<>(superImageLists.keySet()), superClassesPerBatch);
    this.rng = SamplerUtil.orNew(rng);
    reshuffle();
  }

  private static int column(int c, int levels, String name) {
    int k = c < 0 ? c + levels : c;
    if (k < 0 || k >= levels) {
      throw new IllegalArgumentException(name + " " + c + " is out of range for labels with " + levels
          + " columns");
    }
    return k;
  }

  /** {@code itertools.combinations(items, k)} in lexicographic order of positions. */
  private static List<long[]> combinations(List<Long> items, int k) {
    List<long[]> out = new ArrayList<>();
    int n = items.size();
    if (k > n) {
      return out;
    }
    int[] idx = new int[k];
    for (int i = 0; i < k; i++) {
      idx[i] = i;
    }
    while (true) {
      long[] c = new long[k];
      for (int i = 0; i < k; i++) {
        c[i] = items.get(idx[i]);
      }
      out.add(c);
      int i = k - 1;
      while (i >= 0 && idx[i] == n - k + i) {
        i--;
      }
      if (i < 0) {
        return out;
      }
      idx[i]++;
      for (int j = i + 1; j < k; j++) {
        idx[j] = idx[j - 1] + 1;
      }
    }
  }

  /** PML's {@code reshuffle}: draws a new list of batches. */
  public void reshuffle() {
    List<int[]> out = new ArrayList<>();
    for (long[] combo : superTuples) {
      for (int b = 0; b < batchesPerSuperTuple; b++) {
        List<Integer> batch = new ArrayList<>();
        for (long slb : combo) {
          LinkedHashMap<Long, int[]> classes = superImageLists.get(slb);
          List<Long> allClasses = new ArrayList<>(classes.keySet());
          Collections.shuffle(allClasses, rng);
          int filled = 0;
          for (Long cl : allClasses) {
            if (filled >= subBatchLen) {
              break;
            }
            int[] instances = classes.get(cl);
            int spc = samplesPerClass != null ? samplesPerClass : instances.length;
            if (filled + spc > subBatchLen) {
              continue;
            }
            for (int x : SamplerUtil.safeRandomChoice(instances, spc, rng)) {
              batch.add(x);
            }
            filled += spc;
          }
        }
        Collections.shuffle(batch, rng);
        out.add(batch.stream().mapToInt(Integer::intValue).toArray());
      }
    }
    Collections.shuffle(out, rng);
    this.batches = out;
  }

  /** Reshuffles, then iterates over the new batches (as PML's {@code __iter__}). */
  @Override
  public Iterator<int[]> iterator() {
    reshuffle();
    return batches().iterator();
  }

  /** The current batches (copies), without reshuffling. */
  public List<int[]> batches() {
    List<int[]> out = new ArrayList<>(batches.size());
    for (int[] b : batches) {
      out.add(b.clone());
    }
    return out;
  }

  /** PML's {@code __len__}: the number of batches per pass. */
  public int size() {
    return batches.size();
  }

  public int batchSize() {
    return batchSize;
  }

  /** Samples per class, or null for all. */
  public Integer samplesPerClass() {
    return samplesPerClass;
  }

  public int batchesPerSuperTuple() {
    return batchesPerSuperTuple;
  }

  public int superClassesPerBatch() {
    return superClassesPerBatch;
  }

  /** The combinations of super-class labels, one per group of batches. */
  public List<long[]> superTuples() {
    List<long[]> out = new ArrayList<>();
    for (long[] t : superTuples) {
      out.add(t.clone());
    }
    return out;
  }

  @Override
  public String toString() {
    return "HierarchicalSampler(batch_size=" + batchSize + ", samples_per_class="
        + (samplesPerClass == null ? "all" : samplesPerClass) + ", super_tuples=" + superTuples.size()
        + ", batches=" + batches.size() + ")";
  }
}
