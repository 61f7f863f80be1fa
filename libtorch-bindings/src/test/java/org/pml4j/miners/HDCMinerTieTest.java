package org.pml4j.miners;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Owner;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.MarginLoss;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * Why CrossBatchMemory(MarginLoss, HDCMiner) can disagree with PML in float32 while float64 agrees: a tie at HDCMiner's
 * cut-off, not a different cut-off.
 *
 * <p>HDCMiner keeps {@code k = ceil(filter_percentage * P)} of the P positive pairs with {@code torch.topk} (largest
 * distances; the negatives likewise, smallest), exactly PML's formula. CrossBatchMemory enqueues the batch before
 * mining, so the reference holds the batch itself: the pairs {@code (i, slot of j)} and {@code (j, slot of i)} are the
 * same two vectors and have bit-identical distances. When the k-th largest value is such a twin, the cut-off falls
 * between two equal values and either pair is a correct top-k. {@code torch.topk} does not specify which equal
 * element it keeps (its CPU kernel partitions with {@code std::nth_element}/{@code partial_sort}, whose outcome for
 * equal keys depends on every other value of the vector): float32 and float64, or PyTorch 1.13 with MKL and
 * LibTorch 2.10 with OpenBLAS (whose float32 distances differ in the last bit elsewhere in the vector), can keep
 * different twins. The kept pair's anchor then gets the pair's gradient term: one embedding row's gradient changes
 * by a few percent (3.4 % in the reported held-out case), another row's the other way.
 *
 * <p>This test shows it on a seeded batch in pml4j itself: float32 and float64 keep different twins of one exact
 * tie, and the whole float32/float64 gradient difference disappears when float32 is given float64's choice.
 */
class HDCMinerTieTest {
  private static final int BATCH = 32;
  private static final int DIM = 6;
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  /** An HDCMiner that records what it mined (and its distance matrix). */
  static final class Recording extends HDCMiner {
    IndicesTuple mined;
    Tensor mat;
    final Owner kept = new Owner();

    @Override
    protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
      IndicesTuple t = super.mine(embeddings, labels, refEmb, refLabels);
      mat = kept.own(distance.forward(embeddings, refEmb));
      mined = IndicesTuple.pairs(kept.own(t.get(0).clone()), kept.own(t.get(1).clone()),
          kept.own(t.get(2).clone()), kept.own(t.get(3).clone()));
      return t;
    }
  }

  /** A miner that returns a given tuple (to give float32 the pairs float64 chose). */
  static final class Replay extends BaseMiner {
    private final IndicesTuple tuple;

    Replay(IndicesTuple tuple) {
      super(null);
      this.tuple = tuple;
    }

    @Override
    protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
      return tuple;
    }
  }

  private static final float[] VALUES = new float[BATCH * DIM];
  private static final long[] LABELS = new long[BATCH];

  static {
    Random r = new Random(0);
    for (int i = 0; i < VALUES.length; i++) {
      VALUES[i] = (float) r.nextGaussian();
    }
    for (int i = 0; i < BATCH; i++) {
      LABELS[i] = r.nextInt(4);
    }
  }

  /** The first call of a CrossBatchMemory(MarginLoss, miner, memory 63, embedding 6); returns the gradient. */
  private static double[] grad(ScalarType dt, BaseMiner miner) {
    CrossBatchMemory cbm = new CrossBatchMemory(new MarginLoss(), DIM, 63, miner);
    Tensor e = Tensor.create(VALUES, BATCH, DIM).to(dt).detach().requires_grad_(true);
    cbm.forward(e, Tensors.longs(LABELS)).backward();
    return Tensors.toDoubles(e.grad());
  }

  private static Set<String> positives(IndicesTuple t) {
    long[] a = Tensors.toLongs(t.get(0));
    long[] p = Tensors.toLongs(t.get(1));
    Set<String> s = new TreeSet<>();
    for (int i = 0; i < a.length; i++) {
      s.add(a[i] + "," + p[i]);
    }
    return s;
  }

  /** The worst |a - b| beyond the float32 golden tolerance (rtol 1e-3, atol 1e-5); 0 when within. */
  private static double beyondFloat32Tolerance(double[] a, double[] b) {
    double worst = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]) - (1e-5 + 1e-3 * Math.abs(b[i])));
    }
    return worst;
  }

  @Test
  void float32AndFloat64KeepDifferentTwinsOfOneExactTie() {
    Recording m32 = new Recording();
    Recording m64 = new Recording();
    double[] g32 = grad(ScalarType.Float, m32);
    double[] g64 = grad(ScalarType.Double, m64);

    // same cut-off size in both dtypes: k = ceil(0.5 * P), PML's formula
    assertEquals(Tensors.len(m32.mined.get(0)), Tensors.len(m64.mined.get(0)));

    // they differ by one positive pair, and that pair is a twin: (3, slot 9) vs (9, slot 3)
    Set<String> only32 = positives(m32.mined);
    only32.removeAll(positives(m64.mined));
    Set<String> only64 = positives(m64.mined);
    only64.removeAll(positives(m32.mined));
    assertEquals(Set.of("9,3"), only32);
    assertEquals(Set.of("3,9"), only64);

    // the twins' distances are bit-identical in float32, and equal in float64: an exact tie, not a near one
    float d93 = m32.mat.get(9).get(3).item_float();
    float d39 = m32.mat.get(3).get(9).item_float();
    assertEquals(Float.floatToIntBits(d39), Float.floatToIntBits(d93));
    assertEquals(m64.mat.get(3).get(9).item_double(), m64.mat.get(9).get(3).item_double(), 0.0);

    // and the tie straddles the cut-off: the smallest kept positive distance is that value, while its twin, with the
    // same value, is left out
    double kept = Tensors.index2(m32.mat, m32.mined.get(0), m32.mined.get(1)).min().item_double();
    assertEquals(d93, kept, 0.0);

    // the gradients disagree beyond the float32 tolerance (as in the held-out case) ...
    assertTrue(beyondFloat32Tolerance(g32, g64) > 0);
    // ... only in rows 3 and 9, the twins' anchors
    for (int i = 0; i < g32.length; i++) {
      int row = i / DIM;
      if (row != 3 && row != 9) {
        assertTrue(Math.abs(g32[i] - g64[i]) <= 1e-5 + 1e-3 * Math.abs(g64[i]), "row " + row);
      }
    }
    // ... and given float64's choice of twin, float32 agrees with float64 everywhere
    double[] g32Replayed = grad(ScalarType.Float, new Replay(m64.mined));
    assertEquals(0.0, beyondFloat32Tolerance(g32Replayed, g64));
    assertNotEquals(0.0, beyondFloat32Tolerance(g32, g32Replayed));
  }
}
