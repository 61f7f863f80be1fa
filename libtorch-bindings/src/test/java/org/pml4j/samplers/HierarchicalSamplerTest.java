package org.pml4j.samplers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HierarchicalSamplerTest {
  /** Rows {class, super}: 3 super-classes (10, 20, 30) x 4 classes x 5 samples; classes are unique across supers. */
  static long[][] labels() {
    List<long[]> rows = new ArrayList<>();
    for (int s = 0; s < 3; s++) {
      for (int c = 0; c < 4; c++) {
        for (int k = 0; k < 5; k++) {
          rows.add(new long[] {100 * s + c, 10 * (s + 1)});
        }
      }
    }
    java.util.Collections.shuffle(rows, new Random(2));
    return rows.toArray(new long[0][]);
  }

  @Test
  void batchesHoldTwoSuperClassesWithWholeSubBatches() {
    long[][] labels = labels();
    HierarchicalSampler s = new HierarchicalSampler(labels, 16, 4, 4, 2, 0, 1, new Random(9));
    assertEquals(3 * 4, s.size()); // C(3,2) combinations x 4 batches
    Map<String, Integer> perCombo = new HashMap<>();
    int count = 0;
    for (int[] batch : s) {
      count++;
      assertEquals(16, batch.length);
      Map<Long, Integer> supers = new HashMap<>();
      Map<Long, List<Integer>> classes = new HashMap<>();
      for (int i : batch) {
        supers.merge(labels[i][1], 1, Integer::sum);
        classes.computeIfAbsent(labels[i][0], k -> new ArrayList<>()).add(i);
      }
      assertEquals(2, supers.size(), "super-classes per batch");
      supers.values().forEach(v -> assertEquals(8, v));
      assertEquals(4, classes.size(), "2 classes per sub-batch");
      for (List<Integer> members : classes.values()) {
        assertEquals(4, members.size());
        assertEquals(4, new HashSet<>(members).size(), "5 >= 4 samples: no replacement");
      }
      long[] combo = supers.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
      perCombo.merge(Arrays.toString(combo), 1, Integer::sum);
    }
    assertEquals(12, count);
    assertEquals(Map.of("[10, 20]", 4, "[10, 30]", 4, "[20, 30]", 4), perCombo);
    assertEquals(3, s.superTuples().size());
  }

  @Test
  void allSamplesPerClassTakesWholeClassesThatFit() {
    // super 0: classes of sizes 3, 5, 2; super 1: classes of sizes 4, 4, 1
    int[][] spec = {{3, 5, 2}, {4, 4, 1}};
    List<long[]> rows = new ArrayList<>();
    for (int s = 0; s < 2; s++) {
      for (int c = 0; c < 3; c++) {
        for (int k = 0; k < spec[s][c]; k++) {
          rows.add(new long[] {s, 10 * s + c}); // column 0 = super, column 1 = class
        }
      }
    }
    long[][] labels = rows.toArray(new long[0][]);
    Map<Long, Integer> classSize = new HashMap<>();
    for (long[] r : labels) {
      classSize.merge(r[1], 1, Integer::sum);
    }
    HierarchicalSampler s = new HierarchicalSampler(labels, 16, null, 5, 2, 1, 0, new Random(4));
    assertEquals(5, s.size());
    for (int[] batch : s) {
      assertTrue(batch.length <= 16);
      Map<Long, Integer> perSuper = new HashMap<>();
      Map<Long, Set<Integer>> perClass = new HashMap<>();
      for (int i : batch) {
        perSuper.merge(labels[i][0], 1, Integer::sum);
        perClass.computeIfAbsent(labels[i][1], k -> new HashSet<>()).add(i);
      }
      perSuper.values().forEach(v -> assertTrue(v <= 8, "sub-batch of at most 8"));
      perClass.forEach((c, members) -> assertEquals(classSize.get(c), members.size(), "class " + c + " whole"));
      assertEquals(batch.length, new HashSet<>(Arrays.stream(batch).boxed().toList()).size());
    }
  }

  @Test
  void deterministicUnderASeedAndReshuffledEachPass() {
    long[][] labels = labels();
    HierarchicalSampler a = new HierarchicalSampler(labels, 8, 2, 4, 2, 0, 1, new Random(21));
    HierarchicalSampler b = new HierarchicalSampler(labels, 8, 2, 4, 2, 0, 1, new Random(21));
    List<int[]> a0 = a.batches();
    List<int[]> b0 = b.batches();
    for (int i = 0; i < a0.size(); i++) {
      assertArrayEquals(a0.get(i), b0.get(i));
    }
    List<int[]> a1 = new ArrayList<>();
    a.forEach(a1::add);
    List<int[]> b1 = new ArrayList<>();
    b.forEach(b1::add);
    boolean differs = false;
    for (int i = 0; i < a1.size(); i++) {
      assertArrayEquals(a1.get(i), b1.get(i));
      differs |= !Arrays.equals(a1.get(i), a0.get(i));
    }
    assertTrue(differs, "iterating draws new batches");
  }

  @Test
  void moreSuperClassesPerBatchThanExistGivesNoBatches() {
    HierarchicalSampler s = new HierarchicalSampler(labels(), 8, 2, 4, 4, 0, 1, new Random(0));
    assertEquals(0, s.size());
    assertFalse(s.iterator().hasNext());
  }

  @Test
  void pmlAssertionsAreIllegalArguments() {
    long[][] labels = labels();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new HierarchicalSampler(labels, 15, 4, 4, 2, 0, 1, new Random(0)));
    assertTrue(e.getMessage().contains("batch_size should be a multiple of 2"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new HierarchicalSampler(labels, 16, 3, 4, 2, 0, 1, new Random(0)));
    assertTrue(e.getMessage().contains("batch_size not a multiple of samples_per_class"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new HierarchicalSampler(labels, 16, 0));
    assertThrows(IllegalArgumentException.class,
        () -> new HierarchicalSampler(labels, 16, 4, 4, 2, 0, 2, new Random(0)));
    // numpy-style negative column: -1 is the last column (the super label here)
    assertEquals(12, new HierarchicalSampler(labels, 16, 4, 4, 2, 0, -1, new Random(0)).size());
  }
}
