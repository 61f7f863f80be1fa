package org.pml4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading bench_pml.py's output and choosing, per config and figure, the faster PML run as the baseline. */
class BaselineTest {
  /**
   * One line as bench_pml.py prints it (its keys and nesting), with the given steps/s: triplet_ms loss/train,
   * cbm_contrastive loss/train, and P@1 values that tell the runs apart.
   */
  static String pmlLine(int threads, double tLoss, double tTrain, double cLoss, double cTrain, double p1) {
    return String.format(Locale.ROOT, """
        {"pml_version": "2.8.1", "torch_version": "1.13.0a0", "threads": %d, "cpu": "x86_64", "batch": 256, \
        "emb_dim": 128, "lr": 0.001, "train_size": 60000, "test_size": 10000, \
        "micro": {"triplet_ms": {"steps": 50, "secs": 20.0, "steps_per_sec": %s, "embeddings_per_sec": 640.0, \
        "ms_per_step": 400.0, "last_loss": 0.05}, "cbm_contrastive": {"steps": 50, "secs": 4.0, "steps_per_sec": %s, \
        "embeddings_per_sec": 3200.0, "ms_per_step": 80.0, "last_loss": 0.9}}, \
        "train": {"triplet_ms": {"steps": 234, "secs": 100.0, "steps_per_sec": %s, "epochs": 1, \
        "loss": "TripletMarginLoss()", "miner": "MultiSimilarityMiner()"}, "cbm_contrastive": {"steps": 234, \
        "secs": 20.0, "steps_per_sec": %s, "epochs": 1, "miner": null}}, \
        "retrieval": {"untrained_init": {"precision_at_1": 0.8061, "mean_average_precision_at_r": 0.3221, \
        "eval_secs": 3.0}, "triplet_ms": {"precision_at_1": %s, "mean_average_precision_at_r": 0.63, \
        "eval_secs": 3.0}, "cbm_contrastive": {"precision_at_1": %s, "mean_average_precision_at_r": 0.618, \
        "eval_secs": 3.0}}}""", threads, tLoss, cLoss, tTrain, cTrain, p1, p1);
  }

  @Test
  void fasterRunPerConfigAndFigure(@TempDir Path dir) throws Exception {
    // 1 thread: triplet_ms faster in both figures, cbm_contrastive's loss faster; 2 threads: cbm train faster
    Path t1 = Files.writeString(dir.resolve("pml-t1.json"), "some warning on stdout\n"
        + pmlLine(1, 2.5, 2.0, 20.0, 13.9, 0.831) + "\n");
    Path t2 = Files.writeString(dir.resolve("pml-t2.json"), pmlLine(2, 2.2, 1.3, 19.0, 14.8, 0.829));
    Baseline b = Baseline.fromPmlJson(List.of(t1, t2));
    assertTrue(b.measured());
    Baseline.ConfigFigures tr = b.figures("triplet_ms");
    assertEquals(2.5, tr.lossStepsPerSec());
    assertEquals(2.0, tr.trainStepsPerSec());
    assertEquals(t1.toString(), tr.lossSource().file());
    assertEquals(1, tr.trainSource().threads());
    assertEquals(0.831, tr.precisionAt1());
    Baseline.ConfigFigures cbm = b.figures("cbm_contrastive");
    assertEquals(20.0, cbm.lossStepsPerSec());
    assertEquals(1, cbm.lossSource().threads());
    assertEquals(14.8, cbm.trainStepsPerSec());
    assertEquals(2, cbm.trainSource().threads());
    assertEquals(t2.toString(), cbm.trainSource().file());
    assertEquals(0.829, cbm.precisionAt1(), "retrieval from the run with the faster training");
    assertEquals(0.618, cbm.mapAtR());
    assertEquals(0.8061, b.untrainedPrecisionAt1());
    assertEquals(0.3221, b.untrainedMapAtR());
    assertTrue(b.describe().contains("pml-t1.json, 1 thread") && b.describe().contains("pml-t2.json, 2 threads"),
        b.describe());
    assertTrue(b.describe().contains("PML 2.8.1, torch 1.13.0a0"), b.describe());
    assertFalse(b.describe().contains(Baseline.RECORDED), b.describe());
    JsonNode j = b.toJson();
    assertEquals("measured", j.get("kind").asText());
    assertEquals(2, j.get("runs").size());
    assertEquals(2, j.get("configs").get("cbm_contrastive").get("train").get("threads").asInt());
    assertEquals(t1.toString(), j.get("configs").get("cbm_contrastive").get("loss").get("file").asText());

    // the workload of the PML runs (batch 256, embedding 128, 60,000 rows) against this run's
    assertEquals(List.of(), b.mismatches(256, 128, 60_000));
    assertEquals(List.of(t1 + ": PML ran batch 256, this run 16", t1 + ": PML ran embedding size 128, this run 8",
        t1 + ": PML trained on 60000 rows, this run on 160", t2 + ": PML ran batch 256, this run 16",
        t2 + ": PML ran embedding size 128, this run 8", t2 + ": PML trained on 60000 rows, this run on 160"),
        b.mismatches(16, 8, 160));

    // order does not matter
    Baseline swapped = Baseline.fromPmlJson(List.of(t2, t1));
    assertEquals(14.8, swapped.figures("cbm_contrastive").trainStepsPerSec());
    assertEquals(2.5, swapped.figures("triplet_ms").lossStepsPerSec());
  }

  @Test
  void aConfigMissingFromTheFilesKeepsTheRecordedFiguresAndSaysSo(@TempDir Path dir) throws Exception {
    String only = pmlLine(1, 2.5, 2.0, 20.0, 13.9, 0.831).replaceAll(
        "\"triplet_ms\": \\{[^}]*\\}, ", "");
    Path f = Files.writeString(dir.resolve("cbm-only.json"), only);
    Baseline b = Baseline.fromPmlJson(List.of(f));
    assertEquals(13.9, b.figures("cbm_contrastive").trainStepsPerSec());
    assertEquals(PmlBaseline.CONFIGS.get("triplet_ms").trainStepsPerSec(), b.figures("triplet_ms").trainStepsPerSec());
    assertFalse(b.figures("triplet_ms").trainSource().measured());
    assertTrue(b.describe().contains("configs missing from these files use the " + Baseline.RECORDED),
        b.describe());
    assertEquals(Baseline.RECORDED,
        b.toJson().get("configs").get("triplet_ms").get("train").get("source").asText());
  }

  @Test
  void recordedFiguresSaySoLoudly() {
    Baseline b = Baseline.recorded();
    assertFalse(b.measured());
    assertTrue(b.describe().startsWith("PML BASELINE: RECORDED REFERENCE FIGURES FROM ANOTHER MACHINE"),
        b.describe());
    assertTrue(b.describe().contains("--pml-json"), b.describe());
    assertEquals("recorded", b.toJson().get("kind").asText());
    assertEquals(0, b.toJson().get("runs").size());
    assertEquals(5.24, b.figures("cbm_contrastive").trainStepsPerSec());
    assertEquals(Baseline.RECORDED, b.figures("cbm_contrastive").trainSource().describe());
    assertThrows(IllegalArgumentException.class, () -> b.figures("nope"));
  }

  @Test
  void badFilesNameTheFileAndTheProblem(@TempDir Path dir) throws Exception {
    Path missing = dir.resolve("missing.json");
    assertMessage(() -> Baseline.fromPmlJson(List.of(missing)), missing + ": no such file");
    assertMessage(() -> Baseline.fromPmlJson(List.of(dir)), dir + ": is a directory");
    assertMessage(() -> Baseline.fromPmlJson(List.of()), "no file given");
    Path text = Files.writeString(dir.resolve("text.json"), "Traceback (most recent call last):\n  oops\n");
    assertMessage(() -> Baseline.fromPmlJson(List.of(text)), text + ": no JSON line");
    Path broken = Files.writeString(dir.resolve("broken.json"), "{\"threads\": 1, \"micro\": {");
    assertMessage(() -> Baseline.fromPmlJson(List.of(broken)), broken + ": its last JSON line does not parse");
    Path noThreads = Files.writeString(dir.resolve("nothreads.json"), "{\"micro\": {}, \"train\": {}}");
    assertMessage(() -> Baseline.fromPmlJson(List.of(noThreads)), "no \"threads\" count");
    Path noTrain = Files.writeString(dir.resolve("notrain.json"), "{\"threads\": 2, \"micro\": {}}");
    assertMessage(() -> Baseline.fromPmlJson(List.of(noTrain)), "no \"train\" object");
    Path zero = Files.writeString(dir.resolve("zero.json"), pmlLine(1, 0, 2.0, 20.0, 13.9, 0.8));
    assertMessage(() -> Baseline.fromPmlJson(List.of(zero)),
        "micro.triplet_ms.steps_per_sec must be a positive number, got 0.0");
  }

  static void assertMessage(org.junit.jupiter.api.function.Executable call, String part) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
  }
}
