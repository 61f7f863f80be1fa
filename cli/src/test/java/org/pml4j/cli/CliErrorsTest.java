package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.cli.TrainExportEvalTest.Run;

/**
 * The command line's messages for a user's mistakes: each names what is wrong and where (file, line, flag), without
 * parser internals, and exits with 2 before any work.
 */
class CliErrorsTest {
  @TempDir
  Path tmp;

  private static Run run(String... args) {
    return TrainExportEvalTest.run(args);
  }

  private static void assertUserError(Run r, String... expected) {
    assertEquals(2, r.code(), r.err());
    for (String e : expected) {
      assertTrue(r.err().contains(e), "'" + e + "' missing in: " + r.err());
    }
    assertFalse(r.err().contains("[Source:") || r.err().contains("StreamReadFeature")
        || r.err().contains("com.fasterxml") || r.err().contains("known properties"), r.err());
    assertEquals(1, r.err().strip().split("\n").length, "one line: " + r.err());
  }

  @Test
  void jsonSyntaxErrorInConfigNamesFileLineAndColumn() throws Exception {
    Path cfg = tmp.resolve("job.json");
    Files.writeString(cfg, "{\n  \"batch_size\": 32,\n  \"dataset\" \"synthetic\"\n}\n");
    assertUserError(run("stream", "--config", cfg.toString(), "--out", tmp.resolve("o").toString()),
        "pml4j stream: config file " + cfg, "line 3, column");
  }

  @Test
  void missingConfigFileIsNamed() {
    Path cfg = tmp.resolve("nope.json");
    assertUserError(run("stream", "--config", cfg.toString()), "--config", cfg.toString());
  }

  @Test
  void unknownSetKeySuggestsTheClosestAndListsValidKeys() {
    Run r = run("stream", "--set", "bach_size=32", "--out", tmp.resolve("o").toString());
    assertUserError(r, "unknown key 'bach_size'", "did you mean batch_size?", "valid keys: ", "restore_from",
        "synthetic.*", "--keys");
    assertUserError(run("stream", "--set", "synthetic.clases=3", "--out", tmp.resolve("o").toString()),
        "unknown key 'synthetic.clases'", "did you mean synthetic.classes?", "synthetic.noise");
  }

  @Test
  void keysListsEveryJobKeyWithItsDefault() {
    Run r = run("stream", "--keys");
    assertEquals(0, r.code(), r.err());
    for (String k : new String[] {"output_dir = ", "restore_from = null", "batch_size = 64", "synthetic.classes = 10",
        "kafka.bootstrap_servers = \"localhost:9092\"", "trainer = null", "evaluate = \"latest\""}) {
      assertTrue(r.out().contains("  " + k), k + " missing in:\n" + r.out());
    }
  }

  @Test
  void textAfterAnInlineSpecIsRejected() {
    Path out = tmp.resolve("o");
    Run r = run(TrainExportEvalTest.cmd("train", "--loss", "{\"class\": \"TripletMarginLoss\"} xyz", "--out",
        out.toString(), "--no-progress"));
    assertUserError(r, "--loss", "line 1, column");
  }

  @Test
  void misspeltClassListsOnlyClassesOfTheExpectedKind() {
    Path out = tmp.resolve("o");
    Run r = run(TrainExportEvalTest.cmd("train", "--loss", "TripletMarginLos", "--out", out.toString(),
        "--no-progress"));
    assertUserError(r, "unknown class 'TripletMarginLos'; did you mean TripletMarginLoss?", "ContrastiveLoss");
    assertFalse(r.err().contains("MultiSimilarityMiner") || r.err().contains("LpDistance"), r.err());
    Run m = run(TrainExportEvalTest.cmd("train", "--miner", "MultiSimilarityMinr", "--out", out.toString(),
        "--no-progress"));
    assertUserError(m, "did you mean MultiSimilarityMiner?", "BatchHardMiner");
    assertFalse(m.err().contains("TripletMarginLoss"), m.err());
  }

  @Test
  void badEpochsAndBatchSizeNameTheirFlag() {
    String out = tmp.resolve("o").toString();
    Run e = run(TrainExportEvalTest.cmd("train", "--epochs", "-1", "--out", out));
    assertUserError(e, "--epochs must be >= 1", "got -1");
    assertFalse(e.err().contains("--batch-size"), e.err());
    Run b = run(TrainExportEvalTest.cmd("train", "--batch-size", "0", "--out", out));
    assertUserError(b, "--batch-size must be >= 2", "got 0");
    assertFalse(b.err().contains("--epochs"), b.err());
  }

  @Test
  void trainOutThatIsAFileFailsBeforeTraining() throws Exception {
    Path file = Files.writeString(tmp.resolve("taken"), "a user's file");
    Run r = run(TrainExportEvalTest.cmd("train", "--out", file.toString(), "--no-progress"));
    assertUserError(r, "--out: " + file + " is a file");
    assertEquals("a user's file", Files.readString(file));
    assertEquals("", r.out(), "no training output before the error");
  }

  @Test
  void missingDataDirNamesTheFlag() {
    Run r = run("train", "--dataset", "fashion-mnist", "--data-dir", "/nonexistent/fmnist", "--out",
        tmp.resolve("o").toString());
    assertUserError(r, "--data-dir: /nonexistent/fmnist is not a directory");
  }

  @Test
  void streamTakesEveryDatasetOfTheJobWithDashDashDataset() {
    // csv is a dataset of the job: --dataset csv is accepted and the job's own check asks for its paths.
    Run r = run("stream", "--dataset", "csv", "--out", tmp.resolve("o").toString());
    assertEquals(2, r.code(), r.err());
    assertFalse(r.err().contains("unknown dataset"), r.err());
    assertTrue(r.err().contains("train_path"), r.err());
    assertUserError(run("stream", "--dataset", "synthetc", "--out", tmp.resolve("o").toString()),
        "--dataset: unknown dataset 'synthetc'; did you mean synthetic?", "csv, jsonl, kafka");
  }
}
