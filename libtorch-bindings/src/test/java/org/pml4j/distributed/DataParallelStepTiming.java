package org.pml4j.distributed;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.pml4j.torch.Torch;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.StepPhases;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;

/**
 * Not a test: the data-parallel step without Flink. The stream job's default trainer (MLP 784-256-64 + L2Normalize,
 * MultiSimilarityLoss + MultiSimilarityMiner, Adam 1e-3, 1 thread) on random 784-d inputs of 10 classes: one trainer
 * at the global batch vs 2 replicas (two threads in this JVM, one Gloo group each over loopback) at half of it, the
 * non-efficient and the efficient form, in alternating rounds. Prints global samples/s and rank 0's phases.
 * Run: java -cp ... org.pml4j.distributed.DataParallelStepTiming [globalBatch] [steps] [rounds]
 */
public final class DataParallelStepTiming {
  private DataParallelStepTiming() {}

  static TrainerConfig config() {
    return Trainers.configFromJson("{\"encoder\": " + Trainers.defaultEncoder(784, 256, 64)
        + ", \"loss\": {\"class\": \"MultiSimilarityLoss\"}, \"miner\": {\"class\": \"MultiSimilarityMiner\"},"
        + " \"optimizer\": {\"class\": \"Adam\", \"params\": {\"lr\": 0.001}}, \"memory_size\": 0, \"seed\": 0,"
        + " \"threads\": 1}");
  }

  public static void main(String[] args) throws Exception {
    int global = args.length > 0 ? Integer.parseInt(args[0]) : 512;
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 60;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    Torch.ensureLoaded();
    Random rnd = new Random(1);
    int n = steps + 10;
    float[][][] x = new float[n][global][784];
    long[][] y = new long[n][global];
    for (int s = 0; s < n; s++) {
      for (int i = 0; i < global; i++) {
        for (int j = 0; j < 784; j++) {
          x[s][i][j] = rnd.nextFloat();
        }
        y[s][i] = rnd.nextInt(10);
      }
    }
    for (int round = 0; round < rounds; round++) {
      System.out.println("round " + round + ": 1 replica  " + run(1, false, x, y, global, steps));
      System.out.println("round " + round + ": 2 replicas " + run(2, false, x, y, global, steps));
      if (args.length <= 3 || !args[3].equals("exact")) {
        System.out.println("round " + round + ": 2 repl eff " + run(2, true, x, y, global, steps));
      }
    }
  }

  static String run(int world, boolean efficient, float[][][] x, long[][] y, int global, int steps) throws Exception {
    int port = Ranks.freePort();
    int b = global / world;
    List<String> out = Ranks.run(world, 600, rank -> {
      Torch.setNumThreads(1);
      Collective c = world == 1 ? null : GlooCollective.connect(
          new Rendezvous("127.0.0.1", port, rank, world, "timing", Duration.ofSeconds(60)));
      try (BaseTrainer t = Trainers.fromConfig(config())) {
        DataParallelSync sync = c == null ? null : DataParallelSync.attach(t, c, efficient);
        StepPhases ph = new StepPhases();
        long t0 = 0;
        double ar0 = 0;
        for (int s = 0; s < x.length; s++) {
          if (s == 10) {
            t.setPhaseTimes(ph);
            t0 = System.nanoTime();
            ar0 = sync == null ? 0 : sync.allReduceSeconds();
          }
          float[][] shard = new float[b][];
          long[] labels = new long[b];
          for (int i = 0; i < b; i++) {
            shard[i] = x[s][rank * b + i];
            labels[i] = y[s][rank * b + i];
          }
          t.trainStep(shard, labels);
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        String r = String.format(
            "%8.0f samples/s  step %.1f ms (cpu %.1f, loss cpu %.1f ms)  all-reduce %.1f ms/step  phases %s",
            (double) steps * global / sec, 1e3 * sec / steps, 1e3 * ph.totalCpuSeconds() / steps,
            1e3 * (ph.cpuSeconds(StepPhases.Phase.LOSS) + ph.cpuSeconds(StepPhases.Phase.MINER)) / steps,
            sync == null ? 0.0 : 1e3 * (sync.allReduceSeconds() - ar0) / steps, ph);
        StringBuilder cpu = new StringBuilder(r).append("\n      cpu ms/step:");
        for (StepPhases.Phase p : StepPhases.Phase.values()) {
          cpu.append(String.format(" %s %.1f", p.label(), 1e3 * ph.cpuSeconds(p) / steps));
        }
        return cpu.toString();
      } finally {
        if (c != null) {
          c.close();
        }
      }
    });
    return out.get(0);
  }
}
