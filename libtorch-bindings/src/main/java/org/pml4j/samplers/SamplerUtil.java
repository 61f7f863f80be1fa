package org.pml4j.samplers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** PML's {@code common_functions} helpers used by the samplers. */
final class SamplerUtil {
  private SamplerUtil() {}

  /** PML's {@code get_labels_to_indices}: label → indices in order, labels in order of first appearance. */
  static LinkedHashMap<Long, int[]> labelsToIndices(long[] labels) {
    LinkedHashMap<Long, List<Integer>> m = new LinkedHashMap<>();
    for (int i = 0; i < labels.length; i++) {
      m.computeIfAbsent(labels[i], k -> new ArrayList<>()).add(i);
    }
    LinkedHashMap<Long, int[]> out = new LinkedHashMap<>();
    for (Map.Entry<Long, List<Integer>> e : m.entrySet()) {
      out.put(e.getKey(), e.getValue().stream().mapToInt(Integer::intValue).toArray());
    }
    return out;
  }

  /**
   * PML's {@code safe_random_choice}: {@code size} draws from {@code data}, without replacement when
   * {@code data.length >= size}, with replacement otherwise.
   */
  static int[] safeRandomChoice(int[] data, int size, Random rng) {
    if (data.length == 0 && size > 0) {
      throw new IllegalArgumentException("cannot sample from an empty set");
    }
    int[] out = new int[size];
    if (data.length < size) {
      for (int i = 0; i < size; i++) {
        out[i] = data[rng.nextInt(data.length)];
      }
      return out;
    }
    int[] pool = data.clone();
    for (int i = 0; i < size; i++) { // partial Fisher-Yates
      int j = i + rng.nextInt(pool.length - i);
      int t = pool[i];
      pool[i] = pool[j];
      pool[j] = t;
      out[i] = pool[i];
    }
    return out;
  }

  static long[] widen(int[] labels) {
    if (labels == null) {
      throw new IllegalArgumentException("labels must not be null");
    }
    long[] out = new long[labels.length];
    for (int i = 0; i < labels.length; i++) {
      out[i] = labels[i];
    }
    return out;
  }

  static Random orNew(Random rng) {
    return rng == null ? new Random() : rng;
  }
}
