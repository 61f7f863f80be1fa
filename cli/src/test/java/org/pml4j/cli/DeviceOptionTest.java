package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.cli.TrainExportEvalTest.Run;
import org.pml4j.torch.Torch;

/**
 * {@code --device} of {@code train} and {@code stream} (issue 13, item 6): listed in {@code --help}; a value of another
 * form, and CUDA where LibTorch sees none, are user errors (exit 2, one line naming the key and the reason) before any
 * training.
 */
class DeviceOptionTest {
  @TempDir
  Path tmp;

  @Test
  void helpListsTheDevice() {
    for (String cmd : new String[] {"train", "stream"}) {
      Run r = TrainExportEvalTest.run(cmd, "--help");
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().contains("--device=DEVICE") && r.out().contains("auto"), r.out());
      assertTrue(!r.err().contains("Could not format"), r.err());
    }
  }

  private static Run train(Path out, String device) {
    java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train"));
    args.addAll(java.util.List.of(TrainExportEvalTest.DATA));
    args.addAll(java.util.List.of("--out", out.toString(), "--device", device, "--no-progress"));
    return TrainExportEvalTest.run(args.toArray(String[]::new));
  }

  @Test
  void badDevicesAreUserErrors() {
    assumeFalse(Torch.cudaAvailable(), "this machine has CUDA");
    Path out = tmp.resolve("o");
    Run r = train(out, "tpu");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("device must be cpu, cuda, cuda:N or auto, got 'tpu'"), r.err());
    r = train(out, "cuda");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("device=cuda but LibTorch sees no CUDA device"), r.err());
    assertTrue(!Files.exists(out.resolve("checkpoint.bin")), "nothing trained");
    r = TrainExportEvalTest.run("stream", "--dataset", "synthetic", "--out", tmp.resolve("s").toString(),
        "--device", "cuda");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("device=cuda but LibTorch sees no CUDA device"), r.err());
  }
}
