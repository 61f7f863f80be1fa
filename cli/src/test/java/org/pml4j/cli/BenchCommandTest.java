package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/** {@code pml4j bench --json} on tiny synthetic data: the last stdout line is the JSON object. */
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

    TrainExportEvalTest.Run bad = TrainExportEvalTest.run("bench", "--configs", "nope", "--dataset", "synthetic");
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("unknown bench config 'nope'"), bad.err());
  }
}
