package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code pml4j soak}: a long loop of CrossBatchMemory + miner + backward steps keeps the resident set flat when each
 * step runs in a Scope. Run as the user runs it (a JVM that relaunches the loop in a child JVM with a fixed,
 * pre-touched heap), so that heap growth does not mask native growth.
 */
class SoakCommandTest {
  @Test
  void rssStaysFlatOverALongLoopInAFixedHeap() throws Exception {
    soak("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": {\"class\": \"ContrastiveLoss\"},"
        + " \"embedding_size\": 32, \"memory_size\": 512}}", "{\"class\": \"MultiSimilarityMiner\"}", "32", "1");
  }

  /**
   * The dense path (CrossBatchMemory without a miner: the fused ContrastiveLoss kernel over the [B, M] matrix) on 2
   * threads (kernel chunks and OpenBLAS's jobs on pml4j's Java pool) keeps RSS flat too.
   */
  @Test
  void rssStaysFlatOnTheDensePath() throws Exception {
    soak("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": {\"class\": \"ContrastiveLoss\"},"
        + " \"embedding_size\": 64, \"memory_size\": 4096}}", "none", "64", "2");
  }

  private static void soak(String loss, String miner, String dim, String threads) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx96m",
        "-Dorg.bytedeco.javacpp.cachedir=" + System.getProperty("org.bytedeco.javacpp.cachedir",
            System.getProperty("user.home") + "/.javacpp/cache"),
        "-cp", System.getProperty("java.class.path"), Main.class.getName(), "soak", "--heap", "96m",
        "--loss", loss, "--miner", miner, "--steps", "6000", "--batch", "64", "--dim", dim,
        "--classes", "8", "--every", "500", "--flat-from", "0.2", "--max-rise", "0.10", "--threads", threads);
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "soak timed out");
    assertTrue(out.contains("child JVM with a fixed, pre-touched heap of 96m"), out);
    assertTrue(out.contains("step 6000  rss"), out);
    assertTrue(out.matches("(?s).*rss from step 1500 to the end \\(10 samples\\).*rise \\(over the lowest before\\).*"),
        out);
    assertEquals(0, p.exitValue(), "RSS rose more than 10% from step 1200 (20%) on:\n" + out);
  }

  @Test
  void theReportIsOverTheWindow() {
    List<Soak.Sample> s = List.of(new Soak.Sample(100, 1000), new Soak.Sample(200, 2000), new Soak.Sample(300, 2100),
        new Soak.Sample(400, 2050));
    Soak.Report r = Soak.report(s, 150);
    assertEquals(200, r.fromStep());
    assertEquals(3, r.samples());
    assertEquals(2000, r.minKb());
    assertEquals(2100, r.maxKb());
    assertEquals(0.05, r.spread(), 1e-12);
    assertEquals(0.025, r.growth(), 1e-12);
    assertEquals(0.05, r.rise(), 1e-12);
  }

  /** RSS that falls (memory handed back to the OS) is no leak; a climb after the fall is. */
  @Test
  void aFallIsNotARise() {
    Soak.Report fall = Soak.report(List.of(new Soak.Sample(100, 4520), new Soak.Sample(200, 4523),
        new Soak.Sample(300, 4015), new Soak.Sample(400, 4015)), 100);
    assertEquals(4523.0 / 4520 - 1, fall.rise(), 1e-12);
    assertTrue(fall.spread() > 0.12, "the spread still reports the fall: " + fall.spread());
    Soak.Report climb = Soak.report(List.of(new Soak.Sample(100, 4520), new Soak.Sample(200, 4015),
        new Soak.Sample(300, 4400)), 100);
    assertEquals(4400.0 / 4015 - 1, climb.rise(), 1e-12);
  }

  @Test
  void badOptionsAreUserErrors() {
    assertEquals(2, Main.commandLine().execute("soak", "--heap", "lots"));
    assertEquals(2, Main.commandLine().execute("soak", "--flat-from", "1.5"));
    assertEquals(2, Main.commandLine().execute("soak", "--batch", "1"));
  }
}
