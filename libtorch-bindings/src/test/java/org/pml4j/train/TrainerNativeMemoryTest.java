package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Closing a trainer frees its native memory (encoder parameters and gradients, loss parameters, CrossBatchMemory
 * queue, optimizer moments) at once, without the garbage collector: trainers that are closed but still referenced
 * (no GC can free them) leave the process RSS flat over rounds, where each round's trainer holds ~80 MB of native
 * tensors.
 */
class TrainerNativeMemoryTest {
  static final int IN = 1024;
  static final int HIDDEN = 2048;
  static final int EMB = 1024;

  static TrainerConfig bigConfig() {
    String encoder = """
        {"class": "Sequential", "params": {"layers": [
          {"class": "Linear", "params": {"in_features": %d, "out_features": %d}},
          {"class": "ReLU"},
          {"class": "Linear", "params": {"in_features": %d, "out_features": %d}},
          {"class": "L2Normalize"}]}}""".formatted(IN, HIDDEN, HIDDEN, EMB);
    return new TrainerConfig(Trainers.parse(encoder), Trainers.parse("{\"class\": \"ContrastiveLoss\"}"), null,
        null, 4096, 1, 1);
  }

  static long rssBytes() throws Exception {
    // glibc keeps freed heap pages (its mmap threshold rises once big blocks are freed, so later big tensors come
    // from the heap): give them back first, so that RSS counts what is still allocated.
    org.bytedeco.javacpp.Pointer.trimMemory();
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IllegalStateException("no VmRSS in /proc/self/status");
  }

  static void round(List<BaseTrainer> keep) {
    BaseTrainer t = Trainers.fromConfig(bigConfig());
    float[][] x = new float[16][IN];
    long[] y = new long[16];
    for (int i = 0; i < 16; i++) {
      x[i][i] = 1;
      x[i][(i * 7) % IN] = 0.5f;
      y[i] = i % 4;
    }
    t.trainStep(x, y);
    t.trainStep(x, y);
    t.close();
    keep.add(t); // still referenced: only close() can free its memory
  }

  @Test
  void closedTrainersLeaveRssFlat() throws Exception {
    List<BaseTrainer> keep = new ArrayList<>();
    round(keep);
    round(keep);
    long base = rssBytes();
    for (int i = 0; i < 6; i++) {
      round(keep);
    }
    long grown = rssBytes() - base;
    // one round's native tensors: parameters, gradients, two Adam moments (4 × 4M floats) + the 4096 × 1024 queue
    long perRound = 4L * 4 * (IN * HIDDEN + HIDDEN * EMB) + 4L * 4096 * EMB;
    System.out.printf("RSS grew %.1f MB over 6 rounds of %.1f MB each%n", grown / 1e6, perRound / 1e6);
    assertTrue(grown < perRound, "RSS grew " + grown / 1e6 + " MB over 6 closed trainers of " + perRound / 1e6
        + " MB each: close() does not free their native memory");
    assertThrows(IllegalStateException.class, () -> keep.get(0).trainStep(new float[2][IN], new long[] {0, 1}));
  }

  static final int CLASSES = 4096;

  /** A small encoder, a loss with big learnable weights ([EMB, CLASSES], 16 MB) trained in the optimizer's group 1. */
  static TrainerConfig lossParamConfig() {
    String encoder = """
        {"class": "Sequential", "params": {"layers": [
          {"class": "Linear", "params": {"in_features": 16, "out_features": %d}},
          {"class": "L2Normalize"}]}}""".formatted(EMB);
    String loss = """
        {"class": "NormalizedSoftmaxLoss", "params": {"num_classes": %d, "embedding_size": %d}}"""
        .formatted(CLASSES, EMB);
    return new TrainerConfig(Trainers.parse(encoder), Trainers.parse(loss), null,
        Trainers.parse("{\"class\": \"Adam\", \"params\": {\"lr\": 0.001, \"loss_lr\": 0.01}}"), 0, 1, 1);
  }

  static void lossParamRound(List<BaseTrainer> keep) {
    BaseTrainer t = Trainers.fromConfig(lossParamConfig());
    assertEquals(2, t.optimizer().groups());
    float[][] x = new float[8][16];
    long[] y = new long[8];
    for (int i = 0; i < 8; i++) {
      x[i][i] = 1;
      y[i] = i % 4;
    }
    t.trainStep(x, y);
    t.trainStep(x, y);
    t.close();
    keep.add(t);
  }

  /**
   * Closing frees the loss's parameters (and their gradients) and the optimizer's state of the loss group (two Adam
   * moments), including the handles that the optimizer's group holds: the trainer's one owner closes the loss's owner
   * and the optimizer's. Each round holds 4 × 16 MB for the loss weights.
   */
  @Test
  void closedTrainersFreeLossParametersAndTheirOptimizerState() throws Exception {
    List<BaseTrainer> keep = new ArrayList<>();
    lossParamRound(keep);
    lossParamRound(keep);
    long base = rssBytes();
    for (int i = 0; i < 6; i++) {
      lossParamRound(keep);
    }
    long grown = rssBytes() - base;
    long lossWeights = 4L * EMB * CLASSES;
    long perRound = 4 * lossWeights; // weights, gradient, exp_avg, exp_avg_sq
    System.out.printf("RSS grew %.1f MB over 6 rounds of %.1f MB of loss weights and their state each%n",
        grown / 1e6, perRound / 1e6);
    // Measured: 168 MB of growth when the optimizer's group and the construction's temporaries kept the weights
    // alive until a garbage collection; -23 to 19 MB now.
    assertTrue(grown < perRound, "RSS grew " + grown / 1e6 + " MB over 6 closed trainers with "
        + perRound / 1e6 + " MB of loss weights and optimizer state each: close() does not free them");
    BaseTrainer closed = keep.get(keep.size() - 1);
    assertThrows(IllegalStateException.class, () -> closed.trainStep(new float[2][16], new long[] {0, 1}));
  }
}
