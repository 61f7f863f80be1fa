package org.pml4j.train;

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
}
