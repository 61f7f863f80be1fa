package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pml4j bench --json} on tiny synthetic data: the last stdout line is the JSON object; without
 * {@code --pml-json} it says the PML figures are recorded ones, with it it uses and names the faster PML run.
 */
class BenchCommandTest {
  @Test
  void lastLineIsTheJson() throws Exception {
    TrainExportEvalTest.Run r = TrainExportEvalTest.run("bench", "--json", "--dataset", "synthetic", "--classes", "3",
        "--dim", "6", "--train-per-class", "20", "--test-per-class", "8", "--batch-size", "12", "--hidden", "8",
        "--embedding", "4", "--memory-size", "24", "--loss-seconds", "0.02", "--threads", "1", "--no-progress",
        "--configs", "cbm_contrastive");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().strip().split("\n");
    JsonNode j = SpecArgs.JSON.readTree(lines[lines.length - 1]);
    assertTrue(j.get("configs").has("cbm_contrastive") && !j.get("configs").has("triplet_ms"), j.toString());
    assertTrue(j.get("configs").get("cbm_contrastive").get("train_steps_per_sec").asDouble() > 0);
    assertEquals(1, j.get("threads").asInt());
    assertTrue(lines.length > 3, "human-readable lines first");
    assertEquals("recorded", j.get("baseline").get("kind").asText());
    assertTrue(r.out().contains("PML BASELINE: RECORDED REFERENCE FIGURES FROM ANOTHER MACHINE"), r.out());

    TrainExportEvalTest.Run bad = TrainExportEvalTest.run("bench", "--configs", "nope", "--dataset", "synthetic");
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("unknown bench config 'nope'"), bad.err());
  }

  /** bench_pml.py's output line (its keys) for cbm_contrastive only. */
  static String pmlLine(int threads, double loss, double train) {
    return "{\"pml_version\": \"2.8.1\", \"torch_version\": \"1.13.0a0\", \"threads\": " + threads
        + ", \"cpu\": \"x86_64\", \"micro\": {\"cbm_contrastive\": {\"steps\": 50, \"steps_per_sec\": " + loss
        + "}}, \"train\": {\"cbm_contrastive\": {\"steps\": 234, \"steps_per_sec\": " + train + "}}, "
        + "\"retrieval\": {\"untrained_init\": {\"precision_at_1\": 0.806, \"mean_average_precision_at_r\": 0.322}, "
        + "\"cbm_contrastive\": {\"precision_at_1\": 0.823, \"mean_average_precision_at_r\": 0.618}}}";
  }

  @Test
  void pmlJsonFilesAreTheBaseline(@TempDir Path dir) throws Exception {
    Path t1 = Files.writeString(dir.resolve("pml-t1.json"), pmlLine(1, 21.0, 13.9) + "\n");
    Path t2 = Files.writeString(dir.resolve("pml-t2.json"), pmlLine(2, 19.5, 14.8) + "\n");
    TrainExportEvalTest.Run r = TrainExportEvalTest.run("bench", "--json", "--dataset", "synthetic", "--classes", "3",
        "--dim", "6", "--train-per-class", "20", "--test-per-class", "8", "--batch-size", "12", "--hidden", "8",
        "--embedding", "4", "--memory-size", "24", "--loss-seconds", "0.02", "--threads", "1", "--no-progress",
        "--configs", "cbm_contrastive", "--pml-json", t1.toString(), "--pml-json", t2.toString());
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().strip().split("\n");
    JsonNode j = SpecArgs.JSON.readTree(lines[lines.length - 1]);
    assertEquals("measured", j.get("baseline").get("kind").asText());
    assertEquals(14.8, j.get("pml_baseline").get("cbm_contrastive").get("train_steps_per_sec").asDouble());
    assertEquals(21.0, j.get("pml_baseline").get("cbm_contrastive").get("loss_steps_per_sec").asDouble());
    JsonNode src = j.get("baseline").get("configs").get("cbm_contrastive");
    assertEquals(t2.toString(), src.get("train").get("file").asText());
    assertEquals(1, src.get("loss").get("threads").asInt());
    double ours = j.get("configs").get("cbm_contrastive").get("train_steps_per_sec").asDouble();
    assertEquals(ours / 14.8, j.get("ratios").get("cbm_contrastive").get("train_steps_per_sec").asDouble(),
        0.01 * ours / 14.8);
    assertTrue(r.out().contains("PML's 14.80 [" + t2 + ", 2 threads]"), r.out());
    assertTrue(!r.out().contains("RECORDED"), r.out());

    Path missing = dir.resolve("nope.json");
    TrainExportEvalTest.Run bad = TrainExportEvalTest.run("bench", "--pml-json", missing.toString(), "--dataset",
        "synthetic");
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("--pml-json " + missing + ": no such file"), bad.err());
  }
}
