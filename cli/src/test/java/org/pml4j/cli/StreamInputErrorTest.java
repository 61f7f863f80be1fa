package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code pml4j stream} with an input file that does not exist: the CLI's one-line error, exit 2, no job started. */
class StreamInputErrorTest {
  @TempDir
  Path tmp;

  @Test
  void aMissingTrainPathIsAOneLineErrorNamingTheKeyAndThePath() throws Exception {
    Path heldout = tmp.resolve("heldout.csv");
    Files.writeString(heldout, "0,1,2,3,4\n1,2,3,4,5\n");
    Path missing = tmp.resolve("no-such-train.csv");
    Path config = tmp.resolve("job.json");
    Files.writeString(config, "{\"dataset\": \"csv\", \"dimension\": 4, \"train_path\": \"" + missing
        + "\", \"heldout_path\": \"" + heldout + "\"}");
    Path out = tmp.resolve("out");
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setErr(new PrintWriter(err, true));
    int rc = cl.execute("stream", "--config", config.toString(), "--out", out.toString(), "--web-ui-port", "0");
    assertEquals(2, rc, err.toString());
    assertEquals("pml4j stream: train_path: no such file or directory " + missing + System.lineSeparator(),
        err.toString());
    assertFalse(Files.exists(out.resolve("summary.json")));
  }
}
