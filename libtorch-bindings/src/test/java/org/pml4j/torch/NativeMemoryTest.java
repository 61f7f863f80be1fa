package org.pml4j.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A long loop of loss + backward steps keeps the process's resident set flat when each step runs in a {@link Scope}.
 * Runs in a child JVM with a small heap so that heap growth does not mask native growth.
 */
class NativeMemoryTest {
  @Test
  void rssStaysFlatOverALongLoop() throws Exception {
    soak("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": {\"class\": \"ContrastiveLoss\"},"
        + " \"embedding_size\": 32, \"memory_size\": 512}}", "{\"class\": \"MultiSimilarityMiner\"}", "6000", "64",
        "32", "1");
  }

  /**
   * The dense path (CrossBatchMemory without a miner: the fused ContrastiveLoss kernel over the [B, M] matrix) on 2
   * threads (kernel chunks and OpenBLAS's jobs on pml4j's Java pool) keeps RSS flat too.
   */
  @Test
  void rssStaysFlatOnTheDensePath() throws Exception {
    soak("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": {\"class\": \"ContrastiveLoss\"},"
        + " \"embedding_size\": 64, \"memory_size\": 4096}}", "none", "4000", "128", "64", "2");
  }

  private static void soak(String loss, String miner, String steps, String batch, String dim,
      String threads) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // A fixed, pre-touched heap: RSS changes then come from native memory, not from the heap growing.
    ProcessBuilder pb = new ProcessBuilder(java, "-Xms96m", "-Xmx96m", "-XX:+AlwaysPreTouch", "-Xss16m",
        "-Dorg.bytedeco.javacpp.cachedir=" + System.getProperty("org.bytedeco.javacpp.cachedir",
            System.getProperty("user.home") + "/.javacpp/cache"),
        "-cp", System.getProperty("java.class.path"), Soak.class.getName(), loss, miner, steps, batch, dim, "8", "500", "1000", "0.10", threads);
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "soak timed out");
    assertTrue(out.contains("growth"), out);
    assertEquals(0, p.exitValue(), "RSS grew more than 10% after warm-up:\n" + out);
  }
}
