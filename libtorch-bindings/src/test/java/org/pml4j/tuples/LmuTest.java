package org.pml4j.tuples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/** Lmu's fast paths against literal transcriptions of PML's formulas. */
class LmuTest {
  /** PML's remove_self_comparisons for pairs, transcribed element by element (the reference). */
  private static boolean[] pmlKeep(long[] a, long[] p, long[] curr, long refSize) {
    long s = curr[0];
    long e = curr[curr.length - 1];
    boolean[] keep = new boolean[a.length];
    for (int i = 0; i < a.length; i++) {
      boolean inBatch = false;
      for (long c : curr) {
        inBatch |= p[i] == c;
      }
      long pc = p[i] - s;
      if (e <= s && pc <= e - s) {
        pc += refSize;
      }
      keep[i] = !inBatch || a[i] != pc;
    }
    return keep;
  }

  @Test
  void removeSelfComparisonsMatchesPmlIncludingWrapAroundAndSingleRowBatches() {
    Random r = new Random(7);
    long[][] shapes = {{40, 8, 3}, {40, 8, 36}, {16, 16, 0}, {16, 16, 5}, {10, 1, 9}, {10, 1, 0}, {50, 12, 45}};
    for (long[] sh : shapes) {
      long m = sh[0];
      int b = (int) sh[1];
      long q = sh[2];
      long[] curr = new long[b];
      for (int i = 0; i < b; i++) {
        curr[i] = (q + i) % m;
      }
      int n = 300;
      long[] a = new long[n];
      long[] p = new long[n];
      for (int i = 0; i < n; i++) {
        a[i] = r.nextInt(b);
        p[i] = i % 3 == 0 ? curr[(int) a[i]] : r.nextInt((int) m);
      }
      try (Scope s = Scope.open()) {
        IndicesTuple t = IndicesTuple.of(a, p, new long[] {0}, new long[] {1});
        IndicesTuple out = Lmu.removeSelfComparisons(t, Tensors.longs(curr), m, false);
        boolean[] keep = pmlKeep(a, p, curr, m);
        int kept = 0;
        for (boolean k : keep) {
          kept += k ? 1 : 0;
        }
        long[] ea = new long[kept];
        long[] ep = new long[kept];
        for (int i = 0, j = 0; i < n; i++) {
          if (keep[i]) {
            ea[j] = a[i];
            ep[j++] = p[i];
          }
        }
        assertArrayEquals(ea, Tensors.toLongs(out.get(0)), "anchors, memory " + m + " batch " + b + " at " + q);
        assertArrayEquals(ep, Tensors.toLongs(out.get(1)), "positives, memory " + m + " batch " + b + " at " + q);
        Tensor neg = out.get(3);
        assertArrayEquals(new long[] {1}, Tensors.toLongs(neg));
      }
    }
  }

  @Test
  void pairsToTripletsKeepsPmlsOrder() {
    try (Scope s = Scope.open()) {
      // PML: torch.where(a1[:, None] == a2) -> for each positive pair in order, its negatives in order.
      IndicesTuple pairs = IndicesTuple.of(new long[] {2, 0, 2}, new long[] {5, 1, 6}, new long[] {0, 2, 2, 1},
          new long[] {7, 8, 9, 4});
      IndicesTuple t = Lmu.convertToTriplets(pairs, null, null, null);
      assertArrayEquals(new long[] {2, 2, 0, 2, 2}, Tensors.toLongs(t.get(0)));
      assertArrayEquals(new long[] {5, 5, 1, 6, 6}, Tensors.toLongs(t.get(1)));
      assertArrayEquals(new long[] {8, 9, 7, 8, 9}, Tensors.toLongs(t.get(2)));
    }
  }
}
