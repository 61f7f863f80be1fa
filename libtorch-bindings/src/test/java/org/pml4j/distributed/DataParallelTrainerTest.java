package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.StepResult;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;

/**
 * Issue 13's data-parallel trainer: two {@link BaseTrainer} replicas (threads, Gloo) joined by {@link
 * DataParallelSync}, each stepping on its half of every global batch, stay bit-identical after every step (parameter
 * hashes) and train to the parameters of one trainer stepping on the whole global batch (float32, so a float
 * tolerance), for a miner + loss and for a CrossBatchMemory.
 */
class DataParallelTrainerTest {
  static final int DIM = 10;
  static final int B = 8;
  static final int STEPS = 12;
  static final String ENCODER = """
      {"class": "Sequential", "params": {"layers": [
        {"class": "Linear", "params": {"in_features": 10, "out_features": 16}},
        {"class": "ReLU"},
        {"class": "Linear", "params": {"in_features": 16, "out_features": 6}},
        {"class": "L2Normalize"}]}}""";

  static TrainerConfig config(String loss, String miner, int memory, long seed) {
    return new TrainerConfig(Trainers.parse(ENCODER), Trainers.parse(loss),
        miner == null ? null : Trainers.parse(miner), Trainers.parse("{\"class\": \"SGD\", \"params\": {\"lr\": 0.1}}"),
        memory, seed, 1);
  }

  static float[][] features(int step, int from, int n) {
    Random r = new Random(500 + step);
    float[][] all = new float[2 * B][DIM];
    for (int k = 0; k < 2 * B; k++) {
      for (int j = 0; j < DIM; j++) {
        all[k][j] = (float) (r.nextGaussian() + (k % 3 == j % 3 ? 1.5 : 0));
      }
    }
    float[][] out = new float[n][];
    System.arraycopy(all, from, out, 0, n);
    return out;
  }

  /**
   * Trains replica {@code rank} for {@code steps} steps on its shard ({@code b} rows from {@code rank * b}) and returns
   * the parameter hash after the broadcast and after every step; detaches the sync at the end.
   */
  static List<String> trainAndHash(BaseTrainer t, DataParallelSync sync, int rank, int b, int steps) {
    List<String> mine = new ArrayList<>();
    mine.add(sync.parameterHash());
    for (int s = 0; s < steps; s++) {
      StepResult r = t.trainStep(features(s, rank * b, b), labels(rank * b, b));
      assertTrue(!r.wasSkipped(), r.toString());
      mine.add(sync.parameterHash());
    }
    assertTrue(sync.replicasIdentical());
    t.setReplicaSync(null);
    return mine;
  }

  static long[] labels(int from, int n) {
    long[] out = new long[n];
    for (int k = 0; k < n; k++) {
      out[k] = (from + k) % 3;
    }
    return out;
  }

  void check(String loss, String miner, int memory) throws Exception {
    check(loss, miner, memory, false);
  }

  /** With {@code efficient}, PML's efficient form: the replicas stay identical, but it is not the 2b trainer. */
  void check(String loss, String miner, int memory, boolean efficient) throws Exception {
    BaseTrainer single = Trainers.fromConfig(config(loss, miner, memory, 42));
    // Built here, one after another: LibTorch's generator (the initial weights) is process-wide.
    List<BaseTrainer> replicas = List.of(Trainers.fromConfig(config(loss, miner, memory, 42)),
        Trainers.fromConfig(config(loss, miner, memory, 7)));
    double firstLoss = Double.NaN;
    for (int s = 0; s < STEPS; s++) {
      StepResult r = single.trainStep(features(s, 0, 2 * B), labels(0, 2 * B));
      assertTrue(!r.wasSkipped(), r.toString());
      if (s == 0) {
        firstLoss = r.loss();
      }
    }
    assertTrue(firstLoss > 0, "first loss " + firstLoss);
    int port = Ranks.freePort();
    List<List<String>> hashes = Ranks.run(2, 300, rank -> {
      BaseTrainer t = replicas.get(rank);
      try (Collective c = GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, "trainer", Duration.ofSeconds(60)))) {
        return trainAndHash(t, DataParallelSync.attach(t, c, efficient), rank, B, STEPS);
      }
    });
    assertEquals(hashes.get(0), hashes.get(1), "replica parameter hashes per step (the first: after the broadcast)");
    assertNotEquals(hashes.get(0).get(0), hashes.get(0).get(STEPS));
    double[] expected = DataParallelEquivalenceTest.flat(single.encoder());
    double[] got = DataParallelEquivalenceTest.flat(replicas.get(0).encoder());
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-2));
    }
    if (efficient) {
      assertTrue(worst > 1e-4, "the efficient form differs from one trainer at batch 2b, got " + worst);
    } else {
      assertTrue(worst < 1e-5, "worst relative difference to one trainer at batch 2b: " + worst);
    }
    System.out.printf("%s: worst relative diff %.3g%n", loss, worst);
    single.close();
    replicas.forEach(BaseTrainer::close);
  }

  /** A batch that overflows float32 in the encoder on rank 1 only: both replicas skip the step and stay equal. */
  @Test
  void aStepThatOverflowsOnOneReplicaIsSkippedByBoth() throws Exception {
    String loss = "{\"class\": \"ContrastiveLoss\"}";
    List<BaseTrainer> replicas = List.of(Trainers.fromConfig(config(loss, null, 0, 42)),
        Trainers.fromConfig(config(loss, null, 0, 42)));
    int port = Ranks.freePort();
    List<List<String>> out = Ranks.run(2, 300, rank -> {
      BaseTrainer t = replicas.get(rank);
      try (Collective c = GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, "overflow", Duration.ofSeconds(60)))) {
        if (rank == 0) { // broadcast to rank 1: first-layer weights of 0.2, so a row of 3e38 sums to 6e38 = Inf
          try (org.pml4j.torch.Scope s = org.pml4j.torch.Scope.open();
              org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
            t.encoder().namedParameters().values().iterator().next().fill_(org.pml4j.torch.Tensors.s(0.2));
          }
        }
        DataParallelSync sync = DataParallelSync.attach(t, c);
        List<String> seen = new ArrayList<>();
        t.trainStep(features(0, rank * B, B), labels(rank * B, B));
        String before = sync.parameterHash();
        float[][] x = features(1, rank * B, B);
        if (rank == 1) {
          java.util.Arrays.fill(x[3], 3e38f);
        }
        StepResult r = t.trainStep(x, labels(rank * B, B));
        seen.add(String.valueOf(r.skipped()));
        seen.add(String.valueOf(before.equals(sync.parameterHash())));
        StepResult next = t.trainStep(features(2, rank * B, B), labels(rank * B, B));
        seen.add(next.wasSkipped() + " " + next.step() + " " + sync.replicasIdentical());
        t.setReplicaSync(null);
        return seen;
      }
    });
    assertEquals("non-finite encoder output on another replica", out.get(0).get(0));
    assertTrue(out.get(1).get(0).startsWith("non-finite encoder output in 1 of 8 rows"), out.get(1).get(0));
    assertEquals("true", out.get(0).get(1), "rank 0 unchanged by the skipped step");
    assertEquals("true", out.get(1).get(1), "rank 1 unchanged by the skipped step");
    assertEquals("false 2 true", out.get(0).get(2));
    assertEquals("false 2 true", out.get(1).get(2));
    replicas.forEach(BaseTrainer::close);
  }

  @Test
  void tripletMarginLossWithMultiSimilarityMiner() throws Exception {
    check("{\"class\": \"TripletMarginLoss\", \"params\": {\"margin\": 0.2}}",
        "{\"class\": \"MultiSimilarityMiner\"}", 0);
  }

  @Test
  void efficientTripletMarginLossWithMultiSimilarityMiner() throws Exception {
    check("{\"class\": \"TripletMarginLoss\", \"params\": {\"margin\": 0.2}}",
        "{\"class\": \"MultiSimilarityMiner\"}", 0, true);
  }

  @Test
  void crossBatchMemoryContrastiveLoss() throws Exception {
    check("{\"class\": \"ContrastiveLoss\"}", null, 48);
  }
}
