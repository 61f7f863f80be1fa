package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.torch.Torch;

/**
 * The trainer's {@code device} key (issue 13, item 6) as far as a machine without CUDA can check it: the codec (cpu
 * by default and then absent from the JSON, so CPU configs and snapshots are what they were), the form check naming
 * the allowed values, and the clear refusal of a CUDA device by a CPU-only LibTorch at trainer construction. The
 * CUDA runs themselves are {@link CudaTrainingTest} (skipped without a GPU).
 */
class DeviceConfigTest {
  private static TrainerConfig config() {
    return TrainerTest.config("{\"class\": \"TripletMarginLoss\"}", "{\"class\": \"MultiSimilarityMiner\"}", null, 0);
  }

  @Test
  void deviceIsCpuByDefaultAndAbsentFromCpuJson() {
    TrainerConfig c = config();
    assertEquals("cpu", c.device());
    assertEquals(Trainers.DEFAULT_DEVICE, c.device());
    assertTrue(c.onCpu());
    JsonNode json = Trainers.toJson(c);
    assertFalse(json.has("device"), "a CPU config's JSON is as before the key: " + json);
    assertEquals("cpu", Trainers.configFromJson(json).device());
    assertEquals(c, Trainers.configFromJson(json));
    assertEquals("cpu", new TrainerConfig(c.encoder(), null, null, null, 0, 0, 0, null).device(), "null: cpu");
  }

  @Test
  void otherDevicesRoundTripNormalized() {
    for (String d : List.of("cuda", "cuda:1", "auto")) {
      TrainerConfig c = config().withDevice(d);
      JsonNode json = Trainers.toJson(c);
      assertEquals(d, json.get("device").textValue());
      assertEquals(c, Trainers.configFromJson(json.toString()));
    }
    assertEquals("cuda:0", config().withDevice(" CUDA:0 ").device());
    assertEquals("cuda:2", Trainers.withLoss(config().withDevice("cuda:2"), null).device(), "withLoss keeps it");
  }

  @Test
  void unknownDevicesNameTheKeyAndTheAllowedValues() {
    for (String bad : List.of("tpu", "cuda:", "cuda:x", "cuda:-1", "gpu", "")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config().withDevice(bad), bad);
      assertTrue(e.getMessage().contains("device must be cpu, cuda, cuda:N or auto")
          && e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
    String encoder = Trainers.toJson(config()).get("encoder").toString();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Trainers.configFromJson("{\"encoder\": " + encoder + ", \"device\": \"tpu\"}"));
    assertTrue(e.getMessage().contains("device must be cpu, cuda, cuda:N or auto, got 'tpu'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Trainers.configFromJson("{\"encoder\": " + encoder + ", \"device\": 0}"));
    assertTrue(e.getMessage().contains("'device' must be a string"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Trainers.checkDevice("tpu"));
    assertTrue(e.getMessage().contains("cpu, cuda, cuda:N or auto"), e.getMessage());
  }

  @Test
  void cudaWithoutCudaFailsAtConstructionNamingKeyAndReason(@TempDir Path dir) {
    assumeFalse(Torch.cudaAvailable(), "this machine has CUDA: see CudaTrainingTest");
    for (String d : List.of("cuda", "cuda:0", "cuda:3")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Trainers.fromConfig(config().withDevice(d)), d);
      assertTrue(e.getMessage().startsWith("device=" + d + " but LibTorch sees no CUDA device (CPU-only build or no "
          + "GPU); use device=cpu"), e.getMessage());
      assertTrue(e.getMessage().contains("-Pcuda"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> Trainers.checkDevice(d));
    }
    Trainers.checkDevice("cpu");
    Trainers.checkDevice("auto");
    // A checkpoint restores on the CPU, and refuses CUDA here with the same message.
    try (BaseTrainer t = Trainers.fromConfig(config())) {
      t.trainStep(TrainerTest.features(0, 16), TrainerTest.labels(16));
      Checkpoints.save(t, dir.resolve("c.bin"));
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoints.load(dir.resolve("c.bin"), "cuda"));
    assertTrue(e.getMessage().startsWith("device=cuda but LibTorch sees no CUDA device"), e.getMessage());
    try (BaseTrainer t = Checkpoints.load(dir.resolve("c.bin"), "cpu")) {
      assertEquals(1, t.steps());
      assertEquals("cpu", t.deviceName());
    }
  }

  @Test
  void autoWithoutCudaIsTheCpuPathAndSnapshotsAreDeviceFree() {
    assumeFalse(Torch.cudaAvailable(), "this machine has CUDA: auto picks it");
    List<byte[]> cpu;
    List<byte[]> auto;
    double[] losses = new double[6];
    try (BaseTrainer t = Trainers.fromConfig(config())) {
      for (int i = 0; i < 3; i++) {
        losses[i] = t.trainStep(TrainerTest.features(i, 16), TrainerTest.labels(16)).loss();
      }
      cpu = TrainerTest.state(t);
    }
    byte[] snap;
    try (BaseTrainer t = Trainers.fromConfig(config().withDevice("auto"))) {
      assertEquals("cpu", t.deviceName());
      for (int i = 0; i < 3; i++) {
        losses[3 + i] = t.trainStep(TrainerTest.features(i, 16), TrainerTest.labels(16)).loss();
      }
      auto = TrainerTest.state(t);
      snap = t.snapshot();
    }
    for (int i = 0; i < 3; i++) {
      assertEquals(Double.doubleToRawLongBits(losses[i]), Double.doubleToRawLongBits(losses[3 + i]), "step " + i);
    }
    assertEquals(cpu.size(), auto.size());
    for (int k = 0; k < cpu.size(); k++) {
      assertArrayEquals(cpu.get(k), auto.get(k), "device=auto on a CPU-only machine: state part " + k);
    }
    assertEquals("cpu", Trainers.configOf(snap).device(), "the snapshot holds no device");
    assertEquals(Trainers.toJson(config()), Trainers.toJson(Trainers.configOf(snap)),
        "the snapshot's config is the CPU config's");
  }

  @Test
  void replicasSpreadOverTheGpusOnlyForPlainCuda() {
    TrainerConfig c = config();
    assertEquals("cpu", Trainers.forRank(c, 3).device());
    assertEquals("cuda:1", Trainers.forRank(c.withDevice("cuda:1"), 3).device(), "an explicit index is kept");
    int gpus = Torch.cudaDeviceCount();
    if (gpus == 0) {
      assertEquals("cpu", Trainers.forRank(c.withDevice("auto"), 1).device());
      assertEquals("cuda", Trainers.forRank(c.withDevice("cuda"), 1).device(), "left for the trainer to refuse");
    } else {
      assertEquals("cuda:" + (5 % gpus), Trainers.forRank(c.withDevice("cuda"), 5).device());
      assertEquals("cuda:" + (5 % gpus), Trainers.forRank(c.withDevice("auto"), 5).device());
    }
    assertThrows(IllegalArgumentException.class, () -> Trainers.forRank(c, -1));
  }
}
