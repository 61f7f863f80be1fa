package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Progress output: plain lines without a carriage return when there is no terminal, a redrawn bar on one. */
class ProgressBarTest {
  @Test
  void withoutATerminalPrintsPlainLinesAtEveryTenthOfTheSteps() {
    StringWriter w = new StringWriter();
    ProgressBar bar = new ProgressBar(new PrintWriter(w), 200, true, false);
    for (int step = 1; step <= 200; step++) {
      bar.update(step, 1.0 / step);
    }
    bar.finish(200);
    String s = w.toString();
    assertFalse(s.contains("\r"), s);
    String[] lines = s.strip().split("\n");
    assertEquals(10, lines.length, s); // 20, 40, ..., 180 and the final line
    assertTrue(lines[0].startsWith("train 20/200  loss "), lines[0]);
    assertTrue(lines[9].startsWith("train 200/200  loss "), lines[9]);
    assertTrue(lines[9].contains("(moving average)"), lines[9]);
  }

  @Test
  void onATerminalRedrawsOneLine() {
    StringWriter w = new StringWriter();
    ProgressBar bar = new ProgressBar(new PrintWriter(w), 50, true, true);
    for (int step = 1; step <= 50; step++) {
      bar.update(step, 0.5);
    }
    bar.finish(50);
    String s = w.toString();
    assertTrue(s.startsWith("\rtrain ["), s);
    assertEquals(1, s.strip().split("\n").length, s);
  }

  @Test
  void trainThroughTheCommandLineWritesNoCarriageReturnToANonTerminal(@TempDir Path dir) {
    // The test JVM has no console: train's progress goes to stderr as plain lines.
    TrainExportEvalTest.Run r = TrainExportEvalTest.run(TrainExportEvalTest.cmd("train", "--batch-size", "32",
        "--out", dir.toString()));
    assertEquals(0, r.code(), r.err());
    assertFalse(r.err().contains("\r"), r.err());
    assertTrue(r.err().contains("train 6/6  loss "), r.err());
    assertTrue(r.err().contains("evaluating precision_at_1"), r.err());
  }
}
