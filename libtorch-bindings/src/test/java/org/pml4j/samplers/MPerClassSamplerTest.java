package org.pml4j.samplers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MPerClassSamplerTest {
  /** 10 classes of sizes 1..10 (class c has c + 1 samples), interleaved. */
  static long[] labels() {
    List<Long> l = new java.util.ArrayList<>();
    for (int c = 0; c < 10; c++) {
      for (int k = 0; k <= c; k++) {
        l.add((long) (c * 7 + 3)); // labels need not be 0..K-1
      }
    }
    java.util.Collections.shuffle(l, new Random(1));
    return l.stream().mapToLong(Long::longValue).toArray();
  }

  @Test
  void everyBatchHasBatchSizeOverMClassesWithMSamplesEach() {
    long[] labels = labels();
    int m = 4;
    int batch = 16;
    MPerClassSampler s = new MPerClassSampler(labels, m, batch, 1000, new Random(7));
    assertEquals(992, s.size());
    for (int pass = 0; pass < 3; pass++) {
      int[] idx = s.epoch();
      assertEquals(992, idx.length);
      for (int b = 0; b < idx.length; b += batch) {
        Map<Long, List<Integer>> byClass = new HashMap<>();
        for (int i = b; i < b + batch; i++) {
          assertTrue(idx[i] >= 0 && idx[i] < labels.length);
          byClass.computeIfAbsent(labels[idx[i]], k -> new java.util.ArrayList<>()).add(idx[i]);
        }
        assertEquals(batch / m, byClass.size(), "classes per batch");
        for (Map.Entry<Long, List<Integer>> e : byClass.entrySet()) {
          assertEquals(m, e.getValue().size(), "samples of class " + e.getKey());
          int classSize = (int) Arrays.stream(labels).filter(x -> x == e.getKey()).count();
          if (classSize >= m) { // without replacement when the class is big enough
            assertEquals(m, new HashSet<>(e.getValue()).size());
          }
        }
      }
    }
  }

  @Test
  void withoutBatchSizeEveryRoundHasAllClassesMTimes() {
    long[] labels = labels();
    MPerClassSampler s = new MPerClassSampler(labels, 3, null, 100000, new Random(3));
    int round = 3 * 10;
    assertEquals(100000 - 100000 % round, s.size());
    int[] idx = s.epoch();
    assertEquals(s.size(), idx.length);
    for (int r = 0; r < idx.length; r += round) {
      Map<Long, Integer> counts = new HashMap<>();
      for (int i = r; i < r + round; i++) {
        counts.merge(labels[idx[i]], 1, Integer::sum);
      }
      assertEquals(10, counts.size());
      counts.values().forEach(c -> assertEquals(3, c));
    }
  }

  @Test
  void classesAreSampledEvenlyOverAPass() {
    long[] labels = labels();
    MPerClassSampler s = new MPerClassSampler(labels, 2, 8, 8000, new Random(11));
    Map<Long, Integer> counts = new HashMap<>();
    for (int i : s.epoch()) {
      counts.merge(labels[i], 1, Integer::sum);
    }
    assertEquals(10, counts.size());
    // 1000 batches x 4 classes, each class expected 400 times x 2 samples = 800 samples
    counts.values().forEach(c -> assertTrue(c > 600 && c < 1000, "count " + c));
  }

  @Test
  void aPassIsOneFullRoundWhenLongerThanTheLength() {
    // As PML: m * classes (40) > length_before_new_iter (25) and no batch size: len() says 25, a pass yields 40.
    long[] labels = labels();
    MPerClassSampler s = new MPerClassSampler(labels, 4, null, 25, new Random(5));
    assertEquals(25, s.size());
    int[] idx = s.epoch();
    assertEquals(40, idx.length);
    Map<Long, Integer> counts = new HashMap<>();
    for (int i : idx) {
      counts.merge(labels[i], 1, Integer::sum);
    }
    assertEquals(10, counts.size());
    counts.values().forEach(c -> assertEquals(4, c));
  }

  @Test
  void deterministicUnderASeedAndFreshEachPass() {
    long[] labels = labels();
    MPerClassSampler a = new MPerClassSampler(labels, 2, 10, 200, new Random(42));
    MPerClassSampler b = new MPerClassSampler(labels, 2, 10, 200, new Random(42));
    int[] a1 = a.epoch();
    assertArrayEquals(a1, b.epoch());
    int[] a2 = a.epoch();
    assertArrayEquals(a2, b.epoch());
    assertFalse(Arrays.equals(a1, a2), "a new pass is a new draw");
    int n = 0;
    for (int i : new MPerClassSampler(labels, 2, 10, 200, new Random(42))) {
      assertEquals(a1[n++], i);
    }
    assertEquals(a1.length, n);
  }

  @Test
  void intLabelsAreAccepted() {
    int[] labels = {0, 0, 1, 1, 2, 2};
    MPerClassSampler s = new MPerClassSampler(labels, 2, 4, 8, new Random(0));
    assertEquals(8, s.size());
    assertEquals(3, s.numClasses());
    Set<Integer> seen = new HashSet<>();
    for (int i : s) {
      seen.add(i);
    }
    assertTrue(seen.size() >= 4);
  }

  @Test
  void pmlAssertionsAreIllegalArguments() {
    long[] labels = labels(); // 10 classes
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new MPerClassSampler(labels, 4, 18, 1000, new Random(0)));
    assertTrue(e.getMessage().contains("m_per_class must divide batch_size"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MPerClassSampler(labels, 4, 44, 1000, new Random(0)));
    assertTrue(e.getMessage().contains("m * (number of unique labels) must be >= batch_size"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MPerClassSampler(labels, 4, 16, 10, new Random(0)));
    assertTrue(e.getMessage().contains("length_before_new_iter"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new MPerClassSampler(labels, 0, null, 100, null));
    assertThrows(IllegalArgumentException.class, () -> new MPerClassSampler(new long[0], 2));
    // exactly m * classes == batch_size is allowed
    assertEquals(40, new MPerClassSampler(labels, 4, 40, 40, new Random(0)).epoch().length);
  }
}
