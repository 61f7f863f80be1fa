package org.pml4j.miners;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.distances.LpDistance;
import org.pml4j.losses.MultiSimilarityLoss;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * MultiSimilarityMiner returns its pairs as masks with PML's ordered indices made on demand: on random batches (ties,
 * rows whose distances overflow, references, similarities and distances, float32 and float64) the masks hold exactly
 * the pairs of the ordered tuple, the ordered tuple is PML's (anchors ascending, each row's pairs by ascending value),
 * and MultiSimilarityLoss on the mask tuple equals the loss on the same pairs given as indices, value and gradient, bit
 * for bit.
 */
class MultiSimilarityMaskPathTest {
  private static double[][] batch(Random rnd, int n, int d, boolean ties, boolean nanRow) {
    double[][] x = new double[n][d];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < d; j++) {
        x[i][j] = ties ? rnd.nextInt(3) - 1 : rnd.nextGaussian();
      }
      if (ties && i > 0 && rnd.nextInt(4) == 0) {
        x[i] = x[i - 1].clone(); // identical rows: tied similarities
      }
    }
    if (nanRow) {
      // finite input (validation refuses NaN), but squares overflow float32: inf and NaN entries in the matrix
      java.util.Arrays.fill(x[rnd.nextInt(n)], 3e19);
    }
    return x;
  }

  private static long[] labels(Random rnd, int n, int classes) {
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = rnd.nextInt(classes);
    }
    return y;
  }

  /** The pairs (row * m + col) of a mask, ascending. */
  private static long[] pairsOf(Tensor mask) {
    return Tensors.toLongs(Tensors.where(mask)[0].mul(Tensors.s(mask.size(1))).add(Tensors.where(mask)[1]));
  }

  private static long[] sortedPairs(Tensor rows, Tensor cols, long m) {
    long[] r = Tensors.toLongs(rows);
    long[] c = Tensors.toLongs(cols);
    long[] out = new long[r.length];
    for (int i = 0; i < r.length; i++) {
      out[i] = r[i] * m + c[i];
    }
    java.util.Arrays.sort(out);
    return out;
  }

  @Test
  void masksHoldExactlyTheOrderedPairsAndTheLossIsTheSame() {
    Random rnd = new Random(11);
    int cases = 0;
    for (ScalarType dtype : new ScalarType[] {ScalarType.Float, ScalarType.Double}) {
      for (int trial = 0; trial < 24; trial++) {
        boolean ties = trial % 3 == 0;
        boolean nanRow = trial % 5 == 4;
        boolean withRef = trial % 2 == 1;
        BaseDistance dist = trial % 4 < 2 ? new CosineSimilarity() : new LpDistance();
        int n = 4 + rnd.nextInt(20);
        int m = withRef ? 3 + rnd.nextInt(20) : n;
        try (Scope s = Scope.open()) {
          Tensor emb = Tensors.of(batch(rnd, n, 5, ties, nanRow), dtype);
          Tensor y = Tensors.longs(labels(rnd, n, 1 + rnd.nextInt(4)));
          Tensor ref = withRef ? Tensors.of(batch(rnd, m, 5, ties, false), dtype) : null;
          Tensor refY = withRef ? Tensors.longs(labels(rnd, m, 1 + rnd.nextInt(4))) : null;
          MultiSimilarityMiner miner = new MultiSimilarityMiner(0.1, dist);
          IndicesTuple t = miner.forward(emb, y, ref, refY);
          Tensor[] masks = t.pairMasks();
          if (masks == null) {
            assertEquals(0, t.firstLength(), "only the empty tuple (no positive or no negative pair) is eager");
            continue;
          }
          long firstLength = t.firstLength(); // from the mask, before the indices exist
          Tensor[] ordered = t.tensors();
          assertEquals(Tensors.len(ordered[0]), firstLength);
          assertArrayEquals(pairsOf(masks[0]), sortedPairs(ordered[0], ordered[1], m), "positives, case " + trial);
          assertArrayEquals(pairsOf(masks[1]), sortedPairs(ordered[2], ordered[3], m), "negatives, case " + trial);
          // PML's order: anchors ascending, and within an anchor ascending similarity (distance; ties as torch.sort
          // leaves them, which is not stable)
          Tensor mat = dist.forward(emb, withRef ? ref : emb);
          double[] flat = Tensors.toDoubles(mat.to(ScalarType.Double).flatten());
          for (int k = 0; k < 4; k += 2) {
            long[] a = Tensors.toLongs(ordered[k]);
            long[] c = Tensors.toLongs(ordered[k + 1]);
            for (int i = 1; i < a.length; i++) {
              assertTrue(a[i - 1] <= a[i], "anchors ascending");
              if (a[i - 1] == a[i]) {
                double prev = flat[(int) (a[i] * m + c[i - 1])];
                double cur = flat[(int) (a[i] * m + c[i])];
                assertTrue(prev <= cur || Double.isNaN(cur),
                    "row " + a[i] + " sorted: " + prev + " then " + cur);
              }
            }
          }
          // the loss on the masks equals the loss on the same pairs as indices, value and gradient bit for bit
          Tensor e1 = emb.detach().clone().requires_grad_(true);
          Tensor e2 = emb.detach().clone().requires_grad_(true);
          MultiSimilarityLoss loss = new MultiSimilarityLoss();
          Tensor refArg1 = withRef ? ref : null;
          Tensor l1 = loss.forward(e1, y, miner.forward(e1.detach(), y, refArg1, refY), refArg1, refY);
          Tensor l2 = loss.forward(e2, y, IndicesTuple.pairs(ordered[0], ordered[1], ordered[2], ordered[3]),
              refArg1, refY);
          double v1 = l1.item_double();
          double v2 = l2.item_double();
          assertEquals(Double.doubleToLongBits(v2), Double.doubleToLongBits(v1), "loss, case " + trial);
          if (Double.isFinite(v1) && l1.requires_grad()) {
            l1.backward();
            l2.backward();
            assertNotNull(e1.grad());
            assertTrue(e1.grad().equal(e2.grad()), "gradient, case " + trial);
          }
          cases++;
        }
      }
    }
    assertTrue(cases > 30, "mask tuples checked: " + cases);
  }

  @Test
  void selfComparisonsLeaveTheMasksAsTheyLeaveTheIndices() {
    Random rnd = new Random(5);
    for (int trial = 0; trial < 12; trial++) {
      int b = 3 + rnd.nextInt(6);
      int m = b + rnd.nextInt(10);
      long start = trial % 3 == 0 ? 0 : rnd.nextInt(m); // the batch's slots, consecutive, wrapping past the end
      long[] slots = new long[b];
      for (int i = 0; i < b; i++) {
        slots[i] = (start + i) % m;
      }
      try (Scope s = Scope.open()) {
        Tensor emb = Tensors.of(batch(rnd, b, 4, trial % 2 == 0, false), ScalarType.Double);
        Tensor y = Tensors.longs(labels(rnd, b, 3));
        Tensor ref = Tensors.of(batch(rnd, m, 4, false, false), ScalarType.Double);
        long[] refLabels = labels(rnd, m, 3);
        for (int i = 0; i < b; i++) {
          ref.get(slots[i]).copy_(emb.get(i)); // the batch's own rows in its slots, as in a memory bank
          refLabels[(int) slots[i]] = Tensors.toLongs(y)[i];
        }
        IndicesTuple mined = new MultiSimilarityMiner().forward(emb, y, ref, Tensors.longs(refLabels));
        if (mined.pairMasks() == null) {
          continue;
        }
        IndicesTuple masked = org.pml4j.tuples.Lmu.removeSelfComparisons(mined, Tensors.longs(slots), m, false);
        Tensor[] t = mined.tensors();
        IndicesTuple eager = org.pml4j.tuples.Lmu.removeSelfComparisons(IndicesTuple.pairs(t[0], t[1], t[2], t[3]),
            Tensors.longs(slots), m, false);
        Tensor[] masks = masked.pairMasks();
        assertNotNull(masks, "still masks");
        assertArrayEquals(pairsOf(masks[0]), sortedPairs(eager.get(0), eager.get(1), m), "positives, case " + trial);
        assertArrayEquals(pairsOf(masks[1]), sortedPairs(eager.get(2), eager.get(3), m), "negatives, case " + trial);
        for (int k = 0; k < 4; k++) {
          assertTrue(masked.get(k).equal(eager.get(k)), "PML's order, tensor " + k + ", case " + trial);
        }
      }
    }
  }

  @Test
  void masksOfTheWrongShapeAreRefused() {
    try (Scope s = Scope.open()) {
      Tensor emb = Tensors.of(new double[][] {{1, 0}, {0, 1}, {1, 1}}, ScalarType.Double);
      Tensor y = Tensors.longs(0, 0, 1);
      Tensor mask = Tensors.of(new double[][] {{0, 1}, {1, 0}}, ScalarType.Double).to(ScalarType.Bool);
      IndicesTuple t = IndicesTuple.pairsFromMasks(mask, mask, () -> {
        throw new AssertionError("not materialised");
      });
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new MultiSimilarityLoss().forward(emb, y, t));
      assertTrue(e.getMessage().contains("pair masks have shape [2, 2]"), e.getMessage());
      assertThrows(IllegalArgumentException.class,
          () -> IndicesTuple.pairsFromMasks(mask.to(ScalarType.Long), mask, () -> null));
    }
  }
}
