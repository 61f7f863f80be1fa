package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.Trainers;

/**
 * The data-parallel step's collectives ({@link DataParallelSync}: a descriptor all-gather that agrees on the batch
 * shape, then one gather of embeddings and labels together and one gradient all-reduce that also carries the
 * loss-finite flag) on a real Gloo group of two ranks.
 */
class StepProtocolTest {
  private static Rendezvous at(int port, int rank) {
    return new Rendezvous("127.0.0.1", port, rank, 2, "step-protocol", Duration.ofSeconds(20));
  }

  private static BaseTrainer trainer() {
    return Trainers.fromConfig(Trainers.configFromJson("{\"encoder\": " + Trainers.defaultEncoder(3, 4, 2)
        + ", \"loss\": {\"class\": \"ContrastiveLoss\"},"
        + " \"optimizer\": {\"class\": \"SGD\", \"params\": {\"lr\": 0.1}},"
        + " \"seed\": 0, \"threads\": 1}"));
  }

  @Test
  void embeddingsAndLabelsTravelTogetherExactlyAndOtherwiseApart() throws Exception {
    int port = Ranks.freePort();
    long big = (1L << 53) + 1; // not a float64: these labels take the two-gather path
    List<String> out = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(at(port, rank))) {
        Tensor emb = Tensors.of(new double[][] {{0.1 + rank, 1e-7}, {Math.PI, -3.5e30}}, ScalarType.Float);
        Tensor labels = Tensors.longs(rank * 10L - 7, (1L << 53) - rank);
        Tensor bigLabels = Tensors.longs(big + rank, -big);
        for (boolean localFirst : new boolean[] {false, true}) {
          for (boolean agreed : new boolean[] {false, true}) {
            Gathering.Batch packed = Gathering.gatherBatch(c, emb, labels, localFirst, agreed);
            assertEquals(ScalarType.Float, Tensors.dtype(packed.embeddings()));
            assertEquals(ScalarType.Long, Tensors.dtype(packed.labels()));
            assertTrue(packed.embeddings().equal(Gathering.gather(c, emb, "embeddings", localFirst)));
            assertTrue(packed.labels().equal(Gathering.gather(c, labels, "labels", localFirst)));
            Gathering.Batch apart = Gathering.gatherBatch(c, emb, bigLabels, localFirst, agreed);
            assertTrue(apart.labels().equal(Gathering.gather(c, bigLabels, "labels", localFirst)));
          }
        }
        Gathering.Batch b = Gathering.gatherBatch(c, emb, labels, false, true);
        return java.util.Arrays.toString(Tensors.toLongs(b.labels()));
      }
    });
    assertEquals(out.get(0), out.get(1));
    assertEquals("[-7, " + (1L << 53) + ", 3, " + ((1L << 53) - 1) + "]", out.get(0));
  }

  @Test
  void replicasWithBatchesOfDifferentShapesGetAnExceptionNotAnAbort() throws Exception {
    int port = Ranks.freePort();
    List<String> out = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(at(port, rank));
          BaseTrainer t = trainer()) {
        DataParallelSync.attach(t, c);
        float[][] x = new float[rank == 0 ? 4 : 6][3];
        long[] y = new long[x.length];
        for (int i = 0; i < x.length; i++) {
          x[i][i % 3] = 1;
          y[i] = i % 2;
        }
        String msg = assertThrows(IllegalArgumentException.class, () -> t.trainStep(x, y)).getMessage();
        // the group is still in step: both replicas train on equal batches afterwards
        float[][] x4 = java.util.Arrays.copyOf(x, 4);
        long[] y4 = java.util.Arrays.copyOf(y, 4);
        assertFalse(t.trainStep(x4, y4).wasSkipped());
        assertTrue(((DataParallelSync) t.replicaSync()).replicasIdentical());
        return msg;
      }
    });
    assertEquals(out.get(0), out.get(1));
    assertTrue(out.get(0).contains("rank 0 [4, 2]") && out.get(0).contains("rank 1 [6, 2]"), out.get(0));
  }

  @Test
  void batchNormStatisticsAreRankZerosOnEveryReplicaAfterEachStep() throws Exception {
    int port = Ranks.freePort();
    String encoder = "{\"class\": \"Sequential\", \"params\": {\"layers\": ["
        + "{\"class\": \"Linear\", \"params\": {\"in_features\": 3, \"out_features\": 4}},"
        + "{\"class\": \"BatchNorm1d\", \"params\": {\"num_features\": 4}}, {\"class\": \"ReLU\"},"
        + "{\"class\": \"Linear\", \"params\": {\"in_features\": 4, \"out_features\": 2}}]}}";
    List<List<String>> out = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(at(port, rank));
          BaseTrainer t = Trainers.fromConfig(Trainers.configFromJson("{\"encoder\": " + encoder
              + ", \"loss\": {\"class\": \"ContrastiveLoss\"}, \"optimizer\": {\"class\": \"SGD\","
              + " \"params\": {\"lr\": 0.1}}, \"seed\": 0, \"threads\": 1}"))) {
        DataParallelSync.attach(t, c);
        java.util.Random rnd = new java.util.Random(100 + rank); // each replica's shard differs
        List<String> perStep = new java.util.ArrayList<>();
        for (int step = 0; step < 3; step++) {
          float[][] x = new float[6][3];
          long[] y = new long[6];
          for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 3; j++) {
              x[i][j] = (float) (rnd.nextGaussian() * (1 + rank) + rank);
            }
            y[i] = i % 2;
          }
          assertFalse(t.trainStep(x, y).wasSkipped());
          StringBuilder b = new StringBuilder();
          t.encoder().namedBuffers().forEach((k, v) -> b.append(k).append('=')
              .append(java.util.Arrays.toString(Tensors.toDoubles(v.to(ScalarType.Double).flatten()))).append(' '));
          perStep.add(b.toString());
        }
        return perStep;
      }
    });
    assertEquals(out.get(0), out.get(1), "every replica holds rank 0's running statistics after each step");
    assertTrue(out.get(0).get(2).contains("num_batches_tracked=[3.0]"), out.get(0).get(2));
    assertFalse(out.get(0).get(2).contains("running_mean=[0.0, 0.0, 0.0, 0.0]"), out.get(0).get(2));
  }

  @Test
  void aReplicaLeftBetweenTheStepsCollectivesRefusesTheNextStep() {
    try (Scope s = Scope.open(); BaseTrainer t = trainer()) {
      DataParallelSync sync = DataParallelSync.attach(t, new SingleProcessCollective());
      Tensor emb = Tensors.of(new double[][] {{1, 0}, {0, 1}}, ScalarType.Float);
      assertTrue(sync.beginStep(emb, true));
      // the step failed here (say, in the loss): afterBackward never ran
      String msg = assertThrows(IllegalStateException.class, () -> sync.beginStep(emb, true)).getMessage();
      assertTrue(msg.contains("out of step"), msg);
    }
  }
}
