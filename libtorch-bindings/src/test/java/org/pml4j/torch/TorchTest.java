package org.pml4j.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Test;

class TorchTest {
  @Test
  void threadSettingAppliesToAtenAndOpenBlas() {
    Torch.setNumThreads(1);
    assertEquals(1, Torch.numThreads());
    assertEquals(1, org.bytedeco.pytorch.global.torch.get_num_threads());
    assertThrows(IllegalArgumentException.class, () -> Torch.setNumThreads(0));
  }

  @Test
  void deviceNames() {
    Device cpu = Torch.device("cpu");
    assertTrue(cpu.is_cpu());
    Device auto = Torch.device("AUTO");
    assertEquals(Torch.cudaAvailable(), auto.is_cuda());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Torch.device("tpu"));
    assertTrue(e.getMessage().contains("unknown device 'tpu'"));
    if (!Torch.cudaAvailable()) {
      IllegalArgumentException c = assertThrows(IllegalArgumentException.class, () -> Torch.device("cuda:0"));
      assertTrue(c.getMessage().contains("no CUDA device"));
    }
  }

  /**
   * The pitfall of DESIGN.md: with a cold JavaCPP cache, loading must extract every native library before the first
   * load, so the JVM never picks up a system-wide LibTorch. Runs a fresh JVM against an empty cache directory.
   */
  @Test
  void coldCacheLoadsInAFreshJvm() throws Exception {
    Path cache = Files.createTempDirectory("pml4j-cold-cache");
    try {
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      ProcessBuilder pb = new ProcessBuilder(java, "-Dorg.bytedeco.javacpp.cachedir=" + cache,
          "-cp", System.getProperty("java.class.path"), ColdStart.class.getName());
      pb.redirectErrorStream(true);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(300, TimeUnit.SECONDS), "cold start timed out");
      assertEquals(0, p.exitValue(), out);
      assertTrue(out.contains("sum=6.0"), out);
      try (var s = Files.walk(cache)) {
        List<String> libs = s.map(Path::toString).filter(n -> n.endsWith("libtorch_cpu.so")).toList();
        assertEquals(1, libs.size(), "libtorch_cpu.so extracted into the private cache: " + libs);
      }
    } finally {
      deleteTree(cache.toFile());
    }
  }

  /** Child process for {@link #coldCacheLoadsInAFreshJvm()}. */
  public static final class ColdStart {
    public static void main(String[] args) {
      Torch.ensureLoaded();
      System.out.println("sum=" + org.bytedeco.pytorch.global.torch.ones(6).sum().item_double());
    }
  }

  private static void deleteTree(File f) {
    File[] kids = f.listFiles();
    if (kids != null) {
      for (File k : kids) {
        deleteTree(k);
      }
    }
    f.delete();
  }
}
