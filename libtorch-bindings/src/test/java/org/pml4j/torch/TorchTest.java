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
  /**
   * A second class loader that brings its own Bytedeco classes (a second Flink job in one TaskManager without the
   * parent-first recipe) gets a clear exception instead of loading a second LibTorch, which aborts the JVM.
   */
  @Test
  void aSecondClassLoaderIsRefusedWithTheClusterRecipe() throws Exception {
    Torch.ensureLoaded();
    java.net.URL[] urls = {
        Torch.class.getProtectionDomain().getCodeSource().getLocation(),
        org.bytedeco.pytorch.global.torch.class.getProtectionDomain().getCodeSource().getLocation(),
        org.bytedeco.javacpp.Loader.class.getProtectionDomain().getCodeSource().getLocation(),
        org.bytedeco.openblas.global.openblas_full.class.getProtectionDomain().getCodeSource().getLocation()};
    try (java.net.URLClassLoader isolated = new java.net.URLClassLoader(urls, ClassLoader.getPlatformClassLoader())) {
      Class<?> other = Class.forName("org.pml4j.torch.Torch", false, isolated);
      assertTrue(other != Torch.class);
      java.lang.reflect.InvocationTargetException e = assertThrows(java.lang.reflect.InvocationTargetException.class,
          () -> other.getMethod("ensureLoaded").invoke(null));
      assertTrue(e.getCause() instanceof IllegalStateException, String.valueOf(e.getCause()));
      String m = e.getCause().getMessage();
      assertTrue(m.contains("already loaded in this JVM") && m.contains("parent-first-patterns"), m);
    }
    // The loader that owns LibTorch goes on working.
    Torch.ensureLoaded();
    try (Scope s = Scope.open()) {
      assertEquals(10.0, Tensors.floats(new float[][] {{1, 2}, {3, 4}}).sum().item_double(), 0.0);
    }
  }

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
