package org.pml4j.samplers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.miners.BaseMiner;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

class TuplesToWeightsSamplerTest {
  static final long[] LABELS = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};

  /** Returns fixed triplets (positions in the mined batch) and records the labels it saw. */
  static final class FixedMiner extends BaseMiner {
    final long[][] tuple;
    final List<long[]> seenLabels = new ArrayList<>();

    FixedMiner(long[]... tuple) {
      super(null);
      this.tuple = tuple;
    }

    @Override
    protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
      seenLabels.add(Tensors.toLongs(labels));
      return IndicesTuple.of(tuple);
    }
  }

  static Tensor embeddings(int n) {
    Random r = new Random(0);
    double[][] rows = new double[n][4];
    for (double[] row : rows) {
      for (int j = 0; j < 4; j++) {
        row[j] = r.nextGaussian();
      }
    }
    return Tensors.of(rows, ScalarType.Float);
  }

  @Test
  void weightsAreTupleCountsOverTheMaxAndZeroWeightsAreNeverDrawn() {
    // counts: 0 -> 3, 1 -> 2, 2 -> 1, 3 -> 2, 6 -> 1, 7 -> 1; the rest 0
    FixedMiner miner = new FixedMiner(new long[] {0, 0, 1}, new long[] {1, 1, 0}, new long[] {2, 3, 3}, new long[0]);
    FixedMiner triplets = new FixedMiner(new long[] {0, 0, 1, 6}, new long[] {1, 7, 0, 3}, new long[] {2, 3, 3, 0});
    TuplesToWeightsSampler s = new TuplesToWeightsSampler(embeddings(10), triplets, LABELS, null, new Random(1));
    assertNull(s.weights());
    assertEquals(10, s.size());
    int[] idx = s.epoch();
    assertEquals(10, idx.length);
    float[] expected = {4f / 4, 2f / 4, 1f / 4, 3f / 4, 0, 0, 1f / 4, 1f / 4, 0, 0};
    assertArrayEquals(expected, s.weights(), 1e-7f);
    for (int i : idx) {
      assertTrue(expected[i] > 0, "drew zero-weight index " + i);
    }
    assertArrayEquals(LABELS, triplets.seenLabels.get(0), "the miner sees the dataset's labels");
    assertThrows(IllegalArgumentException.class, () -> miner.forward(embeddings(10), Tensors.longs(LABELS)),
        "a malformed tuple is rejected");
  }

  @Test
  void drawsAreProportionalToTheWeights() {
    float[] w = {1f, 0.5f, 0f, 0.25f, 0.25f};
    int draws = 200000;
    int[] counts = new int[w.length];
    for (int i : TuplesToWeightsSampler.weightedDraws(w, draws, new Random(5))) {
      counts[i]++;
    }
    assertEquals(0, counts[2]);
    double total = 2.0;
    for (int i = 0; i < w.length; i++) {
      double p = w[i] / total;
      double sd = Math.sqrt(draws * p * (1 - p));
      assertTrue(Math.abs(counts[i] - draws * p) <= 5 * sd + 1, "index " + i + ": " + counts[i] + " vs " + draws * p);
    }
    assertThrows(IllegalArgumentException.class, () -> TuplesToWeightsSampler.weightedDraws(new float[3], 4,
        new Random(0)));
  }

  @Test
  void nothingMinedMeansUniformWeights() {
    FixedMiner none = new FixedMiner(new long[0], new long[0], new long[0]);
    TuplesToWeightsSampler s = new TuplesToWeightsSampler(embeddings(10), none, LABELS, null, new Random(2));
    s.epoch();
    float[] ones = new float[10];
    java.util.Arrays.fill(ones, 1f);
    assertArrayEquals(ones, s.weights());
  }

  @Test
  void subsetOnlyEmbedsAndWeightsTheSubset() {
    List<int[]> asked = new ArrayList<>();
    Tensor all = embeddings(10);
    FixedMiner miner = new FixedMiner(new long[] {0, 1}, new long[] {1, 2}, new long[] {3, 4});
    TuplesToWeightsSampler s = new TuplesToWeightsSampler(idx -> {
      asked.add(idx.clone());
      long[] l = new long[idx.length];
      for (int i = 0; i < idx.length; i++) {
        l[i] = idx[i];
      }
      return all.index_select(0, Tensors.longs(l));
    }, miner, LABELS, 5, new Random(3));
    assertEquals(5, s.size());
    int[] drawn = s.epoch();
    assertEquals(5, drawn.length);
    int[] subset = asked.get(0);
    assertEquals(5, subset.length);
    Set<Integer> inSubset = new HashSet<>();
    for (int i : subset) {
      inSubset.add(i);
    }
    assertEquals(5, inSubset.size(), "a subset smaller than the dataset has no repeats");
    long[] seen = miner.seenLabels.get(0);
    for (int k = 0; k < 5; k++) {
      assertEquals(LABELS[subset[k]], seen[k], "labels follow the subset");
    }
    float[] w = s.weights();
    // position 1 appears twice, 0, 2, 3, 4 once: weights .5, 1, .5, .5, .5 at the subset's dataset indices
    float[] expectedAtPos = {0.5f, 1f, 0.5f, 0.5f, 0.5f};
    for (int k = 0; k < 5; k++) {
      assertEquals(expectedAtPos[k], w[subset[k]], 1e-7f);
    }
    for (int i = 0; i < 10; i++) {
      if (!inSubset.contains(i)) {
        assertEquals(0f, w[i], "outside the subset");
      }
    }
    for (int i : drawn) {
      assertTrue(inSubset.contains(i));
    }
  }

  @Test
  void deterministicUnderASeed() {
    FixedMiner miner = new FixedMiner(new long[] {0, 2, 4}, new long[] {1, 3, 5}, new long[] {6, 6, 0});
    TuplesToWeightsSampler a = new TuplesToWeightsSampler(embeddings(10), miner, LABELS, 7, new Random(99));
    TuplesToWeightsSampler b = new TuplesToWeightsSampler(embeddings(10), miner, LABELS, 7, new Random(99));
    for (int pass = 0; pass < 3; pass++) {
      assertArrayEquals(a.epoch(), b.epoch());
      assertArrayEquals(a.weights(), b.weights());
    }
    List<Integer> viaIterator = new ArrayList<>();
    new TuplesToWeightsSampler(embeddings(10), miner, LABELS, 7, new Random(99)).forEach(viaIterator::add);
    int[] first = new TuplesToWeightsSampler(embeddings(10), miner, LABELS, 7, new Random(99)).epoch();
    assertEquals(first.length, viaIterator.size());
    for (int i = 0; i < first.length; i++) {
      assertEquals(first[i], viaIterator.get(i));
    }
  }

  @Test
  void badInputsAreRejected() {
    FixedMiner miner = new FixedMiner(new long[] {0}, new long[] {1}, new long[] {2});
    assertThrows(IllegalArgumentException.class,
        () -> new TuplesToWeightsSampler(embeddings(9), miner, LABELS, null, null));
    assertThrows(IllegalArgumentException.class,
        () -> new TuplesToWeightsSampler(embeddings(10), miner, LABELS, -1, null));
    TuplesToWeightsSampler wrongRows = new TuplesToWeightsSampler(idx -> embeddings(3), miner, LABELS);
    assertThrows(IllegalArgumentException.class, wrongRows::epoch);
    // subset_size 0 is PML's falsy subset: the whole dataset
    assertEquals(10, new TuplesToWeightsSampler(embeddings(10), miner, LABELS, 0, null).size());
  }
}
