package org.pml4j.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.pml4j.nn.Sequential;
import org.pml4j.spec.Registry;

/**
 * DESIGN.md's ONNX Runtime pitfall: 1.29.0 overflows a 1 MB thread stack creating {@code OrtEnvironment} when the
 * process command line is longer than about 3.9 KB (silent SIGSEGV). A fresh JVM with the default stack size and a
 * ~10 KB class path creates the environment on its main thread (the pinned version must survive that) and then runs
 * an export through {@link OnnxEncoder}.
 */
class LongCommandLineTest {
  @Test
  void ortSurvivesALongCommandLineWithTheDefaultStack() throws Exception {
    String out = runProbe("main-thread");
    assertTrue(out.contains("main-thread env OK") && out.contains("encoder OK"), out);
  }

  /**
   * The safety net under any ONNX Runtime version: {@link OnnxEncoder#environment()} creates the environment on a
   * 64 MB-stack thread (with 1.29.0 this passes where the test above crashes).
   */
  @Test
  void environmentViaOnnxEncoderSurvivesALongCommandLine() throws Exception {
    String out = runProbe("via-encoder");
    assertTrue(out.contains("encoder OK"), out);
  }

  private static String runProbe(String mode) throws Exception {
    String padding = IntStream.range(0, 160)
        .mapToObj(i -> String.format("/nonexistent/pml4j/padding/entry-%04d/some-library-1.0.0.jar", i))
        .collect(Collectors.joining(File.pathSeparator));
    String cp = System.getProperty("java.class.path") + File.pathSeparator + padding;
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = List.of(java, "-Dorg.bytedeco.javacpp.cachedir="
        + System.getProperty("org.bytedeco.javacpp.cachedir", System.getProperty("user.home") + "/.javacpp/cache"),
        "-cp", cp, Probe.class.getName(), mode);
    int length = String.join(" ", cmd).length();
    assertTrue(length > 8_000, "command line of " + length + " chars");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "probe timed out");
    assertEquals(0, p.exitValue(), "exit " + p.exitValue() + " (139 = SIGSEGV) with a " + length
        + "-char command line:\n" + out);
    System.out.println("long command line (" + length + " chars, " + mode + "): " + out.trim().replace('\n', ' '));
    return out;
  }

  /**
   * Child process: {@code main-thread} creates the environment on the main thread (1 MB default stack) first;
   * {@code via-encoder} leaves it to {@link OnnxEncoder}. Then an export runs in ORT.
   */
  public static final class Probe {
    public static void main(String[] args) {
      if (args[0].equals("main-thread")) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        System.out.println("main-thread env OK, onnxruntime " + env.getVersion());
      }
      Sequential enc = Registry.build("""
          {"class": "Sequential", "params": {"layers": [
            {"class": "Linear", "params": {"in_features": 4, "out_features": 3}}, {"class": "L2Normalize"}]}}""",
          Sequential.class);
      try (OnnxEncoder ort = OnnxEncoder.load(OnnxExporter.export(enc, 1, 1))) {
        System.out.println("encoder OK, embedding size " + ort.embed(new float[] {1, 2, 3, 4}).length);
      }
    }
  }
}
