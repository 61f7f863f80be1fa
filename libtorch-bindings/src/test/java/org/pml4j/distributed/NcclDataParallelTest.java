package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Torch;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.StepResult;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;

/**
 * {@link DataParallelTrainerTest}'s check on NCCL: two replicas in one JVM (threads), built with {@code device=cuda}
 * and {@link Trainers#forRank} (rank r on {@code cuda:(r % GPUs)}), joined by {@link Collectives#connect} with their
 * trainer's device, which selects NCCL. NCCL needs one GPU per rank, so this runs only where LibTorch sees at least
 * two; skipped elsewhere, CI included.
 */
class NcclDataParallelTest {
  @Test
  void twoNcclReplicasStayIdenticalAndMatchOneCpuTrainerAtTheGlobalBatch() throws Exception {
    assumeTrue(Torch.cudaDeviceCount() >= 2, "NCCL replicas need two GPUs (one per rank); LibTorch sees "
        + Torch.cudaDeviceCount());
    String loss = "{\"class\": \"TripletMarginLoss\"}";
    String miner = "{\"class\": \"MultiSimilarityMiner\"}";
    int b = DataParallelTrainerTest.B;
    int steps = DataParallelTrainerTest.STEPS;
    BaseTrainer single = Trainers.fromConfig(DataParallelTrainerTest.config(loss, miner, 0, 42));
    for (int s = 0; s < steps; s++) {
      StepResult r = single.trainStep(DataParallelTrainerTest.features(s, 0, 2 * b),
          DataParallelTrainerTest.labels(0, 2 * b));
      assertTrue(!r.wasSkipped(), r.toString());
    }
    List<BaseTrainer> replicas = new ArrayList<>();
    for (int rank = 0; rank < 2; rank++) { // one after another: the generator (initial weights) is process-wide
      TrainerConfig c = DataParallelTrainerTest.config(loss, miner, 0, rank == 0 ? 42 : 7).withDevice("cuda");
      replicas.add(Trainers.fromConfig(Trainers.forRank(c, rank)));
    }
    assertEquals("cuda:0", replicas.get(0).deviceName());
    assertEquals("cuda:1", replicas.get(1).deviceName());
    int port = Ranks.freePort();
    List<List<String>> hashes = Ranks.run(2, 300, rank -> {
      BaseTrainer t = replicas.get(rank);
      try (Collective c = Collectives.connect(
          new Rendezvous("127.0.0.1", port, rank, 2, "nccl-trainer", Duration.ofSeconds(60)), t.deviceName())) {
        assertInstanceOf(NcclCollective.class, c);
        return DataParallelTrainerTest.trainAndHash(t, DataParallelSync.attach(t, c), rank, b, steps);
      }
    });
    assertEquals(hashes.get(0), hashes.get(1), "replica parameter hashes per step (the first: after the broadcast)");
    double[] expected = DataParallelEquivalenceTest.flat(single.encoder());
    double[] got = DataParallelEquivalenceTest.flat(replicas.get(0).encoder());
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - expected[i]) / Math.max(Math.abs(expected[i]), 1e-2));
    }
    // CUDA against CPU kernels: a float tolerance, not DataParallelTrainerTest's 1e-5 between CPU runs.
    assertTrue(worst < 1e-3, "worst relative difference to one CPU trainer at batch 2b: " + worst);
    single.close();
    replicas.forEach(BaseTrainer::close);
  }
}
