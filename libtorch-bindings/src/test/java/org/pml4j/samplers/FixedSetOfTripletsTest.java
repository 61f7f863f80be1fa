package org.pml4j.samplers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FixedSetOfTripletsTest {
  // class 5 is a singleton
  static final long[] LABELS = {0, 0, 0, 1, 1, 2, 2, 2, 2, 5, 3, 3};

  @Test
  void everyTripletIsValid() {
    FixedSetOfTriplets s = new FixedSetOfTriplets(LABELS, 500, new Random(3));
    assertEquals(1500, s.size());
    boolean sawSingletonAnchor = false;
    Set<Long> anchorClasses = new HashSet<>();
    for (int[] t : s.triplets()) {
      assertEquals(LABELS[t[0]], LABELS[t[1]], "anchor and positive share a class");
      assertNotEquals(LABELS[t[0]], LABELS[t[2]], "negative has another class");
      anchorClasses.add(LABELS[t[0]]);
      if (LABELS[t[0]] == 5) {
        sawSingletonAnchor = true;
        assertEquals(t[0], t[1], "a singleton class repeats its only sample");
      } else {
        assertNotEquals(t[0], t[1], "distinct anchor and positive when the class allows it");
      }
    }
    assertTrue(sawSingletonAnchor);
    assertEquals(5, anchorClasses.size(), "every class is an anchor class at some point");
  }

  @Test
  void eachPassShufflesTheSameFixedSet() {
    FixedSetOfTriplets s = new FixedSetOfTriplets(LABELS, 50, new Random(8));
    int[][] fixed = sorted(s.triplets());
    int[] p1 = s.epoch();
    int[] p2 = s.epoch();
    assertEquals(150, p1.length);
    assertArrayEquals(fixed, sorted(unflatten(p1)), "same triplets");
    assertArrayEquals(fixed, sorted(unflatten(p2)), "same triplets");
    assertFalse(Arrays.equals(p1, p2), "different order");
    int n = 0;
    for (int ignored : s) {
      n++;
    }
    assertEquals(150, n);
  }

  @Test
  void deterministicUnderASeed() {
    FixedSetOfTriplets a = new FixedSetOfTriplets(LABELS, 30, new Random(17));
    FixedSetOfTriplets b = new FixedSetOfTriplets(LABELS, 30, new Random(17));
    int[] intLabels = Arrays.stream(LABELS).mapToInt(x -> (int) x).toArray();
    assertArrayEquals(a.triplets(), new FixedSetOfTriplets(intLabels, 30, new Random(17)).triplets());
    assertArrayEquals(a.triplets(), b.triplets());
    assertArrayEquals(a.epoch(), b.epoch());
    assertArrayEquals(a.epoch(), b.epoch());
  }

  @Test
  void pmlErrorConditions() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new FixedSetOfTriplets(LABELS, 0, new Random(0)));
    assertTrue(e.getMessage().contains("num_triplets"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new FixedSetOfTriplets(new long[] {4, 4, 4}, 3));
  }

  private static int[][] unflatten(int[] flat) {
    int[][] out = new int[flat.length / 3][];
    for (int i = 0; i < out.length; i++) {
      out[i] = Arrays.copyOfRange(flat, 3 * i, 3 * i + 3);
    }
    return out;
  }

  private static int[][] sorted(int[][] rows) {
    List<int[]> l = new ArrayList<>(Arrays.asList(rows));
    l.sort(Comparator.<int[]>comparingInt(r -> r[0]).thenComparingInt(r -> r[1]).thenComparingInt(r -> r[2]));
    return l.toArray(new int[0][]);
  }
}
