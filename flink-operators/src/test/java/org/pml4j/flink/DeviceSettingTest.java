package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.torch.Torch;
import org.pml4j.train.Trainers;

/**
 * The job key {@code device} (issue 13, item 6): unset, the trainer config's device (cpu by default); set, it wins
 * over the trainer config's; a value of another form is refused by the config reader naming the allowed values, and
 * a CUDA device that this LibTorch does not see fails when the config is read (the job key) or the job is built (a
 * trainer config's device, {@link StreamTopology#trainerConfig}), naming the key and the reason.
 */
class DeviceSettingTest {
  @TempDir
  Path tmp;

  private StreamJobConfig args(String... more) {
    String[] all = new String[more.length + 4];
    all[0] = "--output-dir";
    all[1] = tmp.toString();
    all[2] = "--dataset";
    all[3] = "synthetic";
    System.arraycopy(more, 0, all, 4, more.length);
    return StreamJobConfig.fromArgs(all);
  }

  @Test
  void unsetItIsTheTrainersDeviceCpuByDefault() {
    StreamJobConfig c = args();
    assertNull(c.device);
    assertEquals("cpu", StreamTopology.trainerConfig(c).device());
    assertTrue(JobConfigReader.keys().containsKey("device"), "listed by --keys");
    assertTrue(JobConfigReader.keysHelp().contains("device"));
    assertEquals("auto", StreamTopology.trainerConfig(args("--device", "auto")).device());
    assertEquals("cpu", StreamTopology.trainerConfig(args("--device", "CPU")).device());
  }

  @Test
  void theJobKeyWinsOverTheTrainerConfigs() {
    String trainer = TrainerConfigs.toJson(StreamTopology.trainerConfig(args()).withDevice("auto"));
    assertEquals("auto", StreamTopology.trainerConfig(args("--trainer", trainer)).device());
    assertEquals("cpu", StreamTopology.trainerConfig(args("--trainer", trainer, "--device", "cpu")).device());
    assertEquals(Trainers.toJson(StreamTopology.trainerConfig(args())).toString(),
        TrainerConfigs.toJson(StreamTopology.trainerConfig(args("--device", "cpu"))),
        "device=cpu: the config as before");
  }

  @Test
  void anUnknownDeviceNamesTheAllowedValues() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> args("--device", "tpu"));
    assertTrue(e.getMessage().contains("device must be cpu, cuda, cuda:N or auto, got 'tpu'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> args("--device", "cuda:two"));
    assertTrue(e.getMessage().contains("'cuda:two'"), e.getMessage());
  }

  @Test
  void cudaWithoutCudaFailsAtJobConstruction() {
    assumeFalse(Torch.cudaAvailable(), "this machine has CUDA");
    for (String d : new String[] {"cuda", "cuda:1"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> args("--device", d, "--trainer-parallelism", "2"), "the config reader refuses it");
      assertTrue(e.getMessage().contains("device=" + d + " but LibTorch sees no CUDA device (CPU-only build or no "
          + "GPU); use device=cpu"), e.getMessage());
      // A trainer config's own device is checked when the job is built.
      String trainer = TrainerConfigs.toJson(StreamTopology.trainerConfig(args()).withDevice(d));
      StreamJobConfig c = args("--trainer", trainer);
      e = assertThrows(IllegalArgumentException.class, () -> StreamTopology.trainerConfig(c));
      assertTrue(e.getMessage().startsWith("device=" + d + " but LibTorch sees no CUDA device (CPU-only build or no "
          + "GPU); use device=cpu"), e.getMessage());
    }
  }
}
