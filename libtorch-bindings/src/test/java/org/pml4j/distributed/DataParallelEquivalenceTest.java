package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Owner;
import org.pml4j.losses.ContrastiveLoss;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.MetricLoss;
import org.pml4j.losses.TripletMarginLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.miners.MultiSimilarityMiner;
import org.pml4j.nn.Linear;
import org.pml4j.nn.ReLU;
import org.pml4j.nn.Sequential;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.train.Adam;
import org.pml4j.train.OptimizerSpec;
import org.pml4j.train.SGD;
import org.pml4j.train.TrainOptimizer;

/**
 * Issue 13's equivalence: 2 replicas (two threads, each with its own Gloo group) with per-replica batch b train a small
 * float64 MLP for 20 steps to the same parameters (1e-6 relative) as 1 replica with batch 2b built from the same
 * records in rank order; the replicas' parameters are bit-identical after every step.
 */
class DataParallelEquivalenceTest {
  static final int STEPS = 20;
  static final int B = 8;
  static final int IN = 6;
  static final int EMB = 4;

  /** One training case: fresh loss (and miner) per replica. */
  record Case(String name, IntFunction<MetricLoss> loss, IntFunction<BaseMiner> miner, OptimizerSpec optimizer,
      boolean efficient) {
    Case(String name, IntFunction<MetricLoss> loss, IntFunction<BaseMiner> miner, OptimizerSpec optimizer) {
      this(name, loss, miner, optimizer, false);
    }
  }

  /**
   * PML's reference for the efficient form (tests/utils/test_distributed.py, create_efficient_batch): the sum over
   * ranks of the loss of that rank's rows against [its rows, the other rows detached], self-comparisons removed.
   */
  static Tensor efficientReference(MetricLoss loss, BaseMiner miner, Tensor emb, Tensor labels) {
    Tensor total = null;
    for (int r = 0; r < 2; r++) {
      Tensor curr = emb.narrow(0, r * B, B);
      Tensor currLabels = labels.narrow(0, r * B, B);
      Tensor others = Tensors.cat(0, emb.narrow(0, 0, r * B), emb.narrow(0, (r + 1) * B, (1 - r) * B)).detach();
      Tensor otherLabels = Tensors.cat(0, labels.narrow(0, 0, r * B), labels.narrow(0, (r + 1) * B, (1 - r) * B));
      Tensor ref = Tensors.cat(0, curr, others);
      Tensor refLabels = Tensors.cat(0, currLabels, otherLabels);
      org.pml4j.tuples.IndicesTuple tuple = Gathering.indicesTuple(currLabels, refLabels, curr, ref, miner);
      Tensor l = loss.forward(curr, currLabels, tuple, ref, refLabels);
      total = total == null ? l : total.add(l);
    }
    return total;
  }

  static final class Data {
    final double[][][] x = new double[STEPS][2 * B][IN];
    final long[][] labels = new long[STEPS][2 * B];

    Data(long seed) {
      Random rnd = new Random(seed);
      for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < 2 * B; i++) {
          labels[s][i] = rnd.nextInt(3);
          for (int j = 0; j < IN; j++) {
            x[s][i][j] = rnd.nextGaussian() + 0.5 * labels[s][i];
          }
        }
      }
    }

    Tensor x(int step, int from, int n) {
      double[][] rows = new double[n][];
      System.arraycopy(x[step], from, rows, 0, n);
      return Tensors.of(rows, ScalarType.Double);
    }

    Tensor labels(int step, int from, int n) {
      long[] l = new long[n];
      System.arraycopy(labels[step], from, l, 0, n);
      return Tensors.longs(l);
    }
  }

  static Sequential mlp() {
    Sequential m = new Sequential(List.of(new Linear(IN, 16), new ReLU(), new Linear(16, EMB)));
    m.to(ScalarType.Double);
    return m;
  }

  /**
   * Owned handles on the parameters (Layer.namedParameters()'s handles live only as long as its temporary dict), left
   * to the garbage collector with their owner.
   */
  static List<Tensor> params(Sequential m) {
    Owner owner = new Owner();
    try (Scope s = Scope.open()) {
      List<Tensor> out = new ArrayList<>();
      for (Tensor p : m.namedParameters().values()) {
        out.add(owner.own(new Tensor(p)));
      }
      return out;
    }
  }

  static double[] flat(Sequential m) {
    List<double[]> parts = new ArrayList<>();
    int n = 0;
    for (Tensor p : params(m)) {
      double[] d = Tensors.toDoubles(p.detach().flatten());
      parts.add(d);
      n += d.length;
    }
    double[] out = new double[n];
    int o = 0;
    for (double[] d : parts) {
      System.arraycopy(d, 0, out, o, d.length);
      o += d.length;
    }
    return out;
  }

  static String hash(double[] values) {
    try {
      ByteBuffer buf = ByteBuffer.allocate(values.length * 8);
      for (double v : values) {
        buf.putDouble(v);
      }
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(buf.array()));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** One step of the loss (with the miner's tuple when there is a miner). */
  static Tensor loss(MetricLoss loss, IndicesTuple0 miner, Tensor emb, Tensor labels) {
    return loss.forward(emb, labels, miner == null ? null : miner.mine(emb, labels), null, null);
  }

  interface IndicesTuple0 {
    org.pml4j.tuples.IndicesTuple mine(Tensor emb, Tensor labels);
  }

  void check(Case c) throws Exception {
    Data data = new Data(13);
    Sequential init = mlp();
    byte[] initState = init.saveState();
    double[] initFlat = flat(init);

    // 1 replica, batch 2b.
    Sequential single = mlp();
    single.loadState(initState);
    MetricLoss singleLoss = c.loss.apply(0);
    BaseMiner singleMiner = c.miner == null ? null : c.miner.apply(0);
    TrainOptimizer singleOpt = c.optimizer.build(params(single), List.of());
    double firstLoss = Double.NaN;
    for (int s = 0; s < STEPS; s++) {
      try (Scope step = Scope.open()) {
        singleOpt.zeroGrad();
        Tensor emb = single.forward(data.x(s, 0, 2 * B));
        Tensor labels = data.labels(s, 0, 2 * B);
        Tensor l = c.efficient ? efficientReference(singleLoss, singleMiner, emb, labels)
            : loss(singleLoss, singleMiner == null ? null : singleMiner::forward, emb, labels);
        l.backward();
        singleOpt.step();
        if (s == 0) {
          firstLoss = l.item_double();
        }
      }
    }
    assertTrue(firstLoss > 0, c.name + ": the first loss is " + firstLoss);
    double[] expected = flat(single);

    // 2 replicas, batch b each.
    int port = Ranks.freePort();
    List<List<String>> hashes = new ArrayList<>();
    List<double[]> finals = new ArrayList<>();
    Ranks.run(2, 300, rank -> {
      try (Collective col = GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, c.name, Duration.ofSeconds(60)))) {
        Sequential model = mlp();
        if (rank == 0) {
          model.loadState(initState); // rank 1 keeps its own random init: the broadcast must replace it
        }
        GradientAverager avg = new GradientAverager(col, params(model));
        avg.broadcastParameters();
        assertEquals(hash(initFlat), hash(flat(model)), c.name + ": rank " + rank + " after the broadcast");
        DistributedLossWrapper loss = new DistributedLossWrapper(c.loss.apply(rank), c.efficient, col);
        DistributedMinerWrapper miner = c.miner == null ? null
            : new DistributedMinerWrapper(c.miner.apply(rank), c.efficient, col);
        TrainOptimizer opt = c.optimizer.build(params(model), List.of());
        List<String> mine = new ArrayList<>();
        for (int s = 0; s < STEPS; s++) {
          try (Scope step = Scope.open()) {
            opt.zeroGrad();
            Tensor emb = model.forward(data.x(s, rank * B, B));
            Tensor l = loss(loss, miner == null ? null : miner::forward, emb, data.labels(s, rank * B, B));
            l.backward();
            avg.averageGradients();
            opt.step();
            mine.add(hash(flat(model)));
          }
        }
        synchronized (hashes) {
          while (hashes.size() <= rank) {
            hashes.add(null);
            finals.add(null);
          }
          hashes.set(rank, mine);
          finals.set(rank, flat(model));
        }
        return null;
      }
    });
    assertEquals(hashes.get(0), hashes.get(1), c.name + ": replica parameter hashes per step");
    assertEquals(STEPS, hashes.get(0).size());
    double[] got = finals.get(0);
    assertEquals(expected.length, got.length);
    double moved = 0;
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      moved = Math.max(moved, Math.abs(expected[i] - initFlat[i]));
      worst = Math.max(worst, Math.abs(got[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-3));
    }
    assertTrue(moved > 1e-3, c.name + ": training moved the parameters by at most " + moved);
    assertTrue(worst <= 1e-6, c.name + ": worst relative difference to 1 replica at batch 2b is " + worst);
    assertNotEquals(hash(initFlat), hashes.get(0).get(STEPS - 1));
    System.out.printf("%s: first loss %.4f, max |param change| %.3g, worst relative diff %.3g%n", c.name, firstLoss,
        moved, worst);
  }

  @Test
  void tripletMarginLossWithMultiSimilarityMinerSgd() throws Exception {
    check(new Case("triplet-ms", r -> new TripletMarginLoss(), r -> new MultiSimilarityMiner(), new SGD(0.1)));
  }

  @Test
  void contrastiveLossAdam() throws Exception {
    check(new Case("contrastive", r -> new ContrastiveLoss(), null, new Adam(0.01)));
  }

  @Test
  void efficientContrastiveLossSgd() throws Exception {
    check(new Case("contrastive-efficient", r -> new ContrastiveLoss(), null, new SGD(0.1), true));
  }

  @Test
  void efficientContrastiveLossWithMultiSimilarityMinerSgd() throws Exception {
    check(new Case("contrastive-ms-efficient", r -> new ContrastiveLoss(), r -> new MultiSimilarityMiner(),
        new SGD(0.1), true));
  }

  @Test
  void crossBatchMemoryContrastiveLossSgd() throws Exception {
    check(new Case("xbm-contrastive", r -> new CrossBatchMemory(new ContrastiveLoss(), EMB, 40, null), null,
        new SGD(0.1)));
  }
}
