package org.pml4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.pml4j.data.DataSource;
import org.pml4j.data.LabeledDataset;
import org.pml4j.data.SyntheticClusters;
import org.pml4j.train.StepPhases;

/** The bench harness on tiny synthetic data: the JSON's shape and that every figure is positive and finite. */
class BenchTest {
  static final SyntheticClusters DATA = new SyntheticClusters(4, 12, 1.0, 1.0, 7);
  static final LabeledDataset TRAIN = DATA.source(DataSource.Split.TRAIN).load(160);
  static final LabeledDataset TEST = DATA.source(DataSource.Split.TEST).load(60);
  static final Set<String> FIGURES = Set.of("loss_steps_per_sec", "train_steps_per_sec", "precision_at_1",
      "mean_average_precision_at_r");

  /** batch 16, MLP 12-16-8, memory 48, 0.05 s loss timing, 2 probe steps. */
  static BenchOptions tiny(int threads) {
    return new BenchOptions(16, 16, 8, 48, 3, threads, 0.05, 3, 1, 2);
  }

  static void positiveFinite(JsonNode n, String what) {
    assertTrue(n.isNumber(), what + " is a number: " + n);
    assertTrue(Double.isFinite(n.asDouble()) && n.asDouble() > 0, what + " is positive and finite: " + n);
  }

  @Test
  void jsonShapeAndFigures() throws Exception {
    StringWriter log = new StringWriter();
    List<String> progress = new ArrayList<>();
    Bench.Progress p = new Bench.Progress() {
      @Override
      public void start(String config, long totalSteps) {
        progress.add(config + " " + totalSteps);
      }

      @Override
      public void step(org.pml4j.train.StepResult r) {}

      @Override
      public void finish(long steps) {
        progress.add("done " + steps);
      }
    };
    Bench.Result r = new Bench(tiny(0), new PrintWriter(log), p).run(BenchConfig.NAMES, TRAIN, TEST);
    String line = r.toJson().toString();
    assertFalse(line.contains("\n"), "one line");
    JsonNode j = new ObjectMapper().readTree(line);
    assertEquals(new TreeSet<>(List.of("configs", "pml_baseline", "baseline", "ratios", "threads", "thread_probe",
        "java")), fields(j));
    assertEquals("recorded", j.get("baseline").get("kind").asText());
    assertTrue(log.toString().contains("PML BASELINE: RECORDED REFERENCE FIGURES FROM ANOTHER MACHINE"),
        log.toString());
    // the probe's figures: ms per step by thread count and config, and 2 threads' speed-up over 1 per config
    for (String c : BenchConfig.NAMES) {
      double one = j.get("thread_probe").get("1").get(c).asDouble();
      double two = j.get("thread_probe").get("2").get(c).asDouble();
      positiveFinite(j.get("thread_probe").get("1").get(c), "probe 1 " + c);
      positiveFinite(j.get("thread_probe").get("2").get(c), "probe 2 " + c);
      assertEquals(one / two, j.get("thread_probe").get("speedup_2_over_1").get(c).asDouble(), 0.01 * one / two);
      assertTrue(log.toString().contains(one / two < 1 ? c + " is " : c + ": 2 threads "), log.toString());
    }
    assertEquals(new TreeSet<>(BenchConfig.NAMES), fields(j.get("configs")));
    for (String c : BenchConfig.NAMES) {
      assertEquals(FIGURES, fields(j.get("configs").get(c)), c);
      for (String f : FIGURES) {
        positiveFinite(j.get("configs").get(c).get(f), c + "." + f);
        positiveFinite(j.get("pml_baseline").get(c).get(f), "pml_baseline." + c + "." + f);
      }
      assertTrue(j.get("configs").get(c).get("precision_at_1").asDouble() <= 1);
      assertTrue(j.get("configs").get(c).get("mean_average_precision_at_r").asDouble() <= 1);
      assertEquals(Set.of("loss_steps_per_sec", "train_steps_per_sec"), fields(j.get("ratios").get(c)));
      positiveFinite(j.get("ratios").get(c).get("loss_steps_per_sec"), c + " loss ratio");
      positiveFinite(j.get("ratios").get(c).get("train_steps_per_sec"), c + " train ratio");
    }
    assertEquals(0.90, j.get("pml_baseline").get("triplet_ms").get("loss_steps_per_sec").asDouble());
    assertEquals(0.322, j.get("pml_baseline").get("untrained").get("mean_average_precision_at_r").asDouble());
    int threads = j.get("threads").asInt();
    assertTrue(j.get("threads").isInt() && (threads == 1 || threads == 2), "threads " + j.get("threads"));
    assertTrue(r.threads().measured());
    assertEquals(System.getProperty("java.version"), j.get("java").asText());

    // one epoch of 160 rows in batches of 16, the phases add up, the thread choice is printed
    assertEquals(List.of("triplet_ms 10", "done 10", "cbm_contrastive 10", "done 10"), progress);
    for (Bench.ConfigResult c : r.configs()) {
      assertEquals(10, c.train().steps());
      assertEquals(10, c.trainPhases().steps());
      assertTrue(c.loss().steps() >= 3);
      StepPhases ph = c.trainPhases();
      assertTrue(ph.totalSeconds() > 0 && ph.totalSeconds() <= c.train().seconds() * 1.01 + 1e-3);
      assertTrue(ph.seconds(StepPhases.Phase.ENCODER_FORWARD) > 0 && ph.seconds(StepPhases.Phase.BACKWARD) > 0);
    }
    assertTrue(r.configs().get(0).trainPhases().seconds(StepPhases.Phase.MINER) > 0, "triplet_ms mines");
    assertEquals(0, r.configs().get(1).trainPhases().seconds(StepPhases.Phase.MINER), 1e-3, "cbm has no miner");
    assertTrue(log.toString().contains("threads: probe"), log.toString());
  }

  @Test
  void subsetGivenThreadsAndBadInput() throws Exception {
    Bench.Result r = new Bench(tiny(1), null, null).run(List.of("cbm_contrastive"), TRAIN, TEST);
    JsonNode j = new ObjectMapper().readTree(r.toJson().toString());
    assertEquals(Set.of("cbm_contrastive"), fields(j.get("configs")));
    assertEquals(Set.of("cbm_contrastive"), fields(j.get("ratios")));
    assertEquals(Set.of("triplet_ms", "cbm_contrastive", "untrained"), fields(j.get("pml_baseline")));
    assertEquals(1, j.get("threads").asInt());
    assertFalse(r.threads().measured());
    assertFalse(j.has("thread_probe"), "no probe when the thread count is given");
    for (String f : FIGURES) {
      positiveFinite(j.get("configs").get("cbm_contrastive").get(f), f);
    }
    assertThrows(IllegalArgumentException.class, () -> new Bench(tiny(1), null, null).run(List.of("nope"), TRAIN,
        TEST));
    assertThrows(IllegalArgumentException.class, () -> new Bench(tiny(1), null, null).run(List.of("triplet_ms"),
        TRAIN.head(10), TEST));
  }

  /** With bench_pml.py figures, the ratios are against them and the output names the file and thread count. */
  @Test
  void measuredBaselineIsUsedAndNamed(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path t1 = java.nio.file.Files.writeString(dir.resolve("pml-t1.json"),
        BaselineTest.pmlLine(1, 2.5, 2.0, 20.0, 13.9, 0.831));
    java.nio.file.Path t2 = java.nio.file.Files.writeString(dir.resolve("pml-t2.json"),
        BaselineTest.pmlLine(2, 2.2, 1.3, 19.0, 14.8, 0.829));
    StringWriter log = new StringWriter();
    Bench.Result r = new Bench(tiny(1), new PrintWriter(log), null, Baseline.fromPmlJson(List.of(t1, t2)))
        .run(List.of("cbm_contrastive"), TRAIN, TEST);
    JsonNode j = new ObjectMapper().readTree(r.toJson().toString());
    assertEquals(14.8, j.get("pml_baseline").get("cbm_contrastive").get("train_steps_per_sec").asDouble());
    assertEquals(20.0, j.get("pml_baseline").get("cbm_contrastive").get("loss_steps_per_sec").asDouble());
    double ours = j.get("configs").get("cbm_contrastive").get("train_steps_per_sec").asDouble();
    assertEquals(ours / 14.8, j.get("ratios").get("cbm_contrastive").get("train_steps_per_sec").asDouble(),
        0.01 * ours / 14.8);
    assertEquals("measured", j.get("baseline").get("kind").asText());
    assertEquals(2, j.get("baseline").get("configs").get("cbm_contrastive").get("train").get("threads").asInt());
    assertEquals(0.8061, j.get("pml_baseline").get("untrained").get("precision_at_1").asDouble());
    String text = log.toString();
    assertTrue(text.contains("PML baseline: measured on this machine"), text);
    assertTrue(text.contains("PML's 14.80 [" + t2 + ", 2 threads]"), text);
    assertTrue(text.contains("PML's 20.00 [" + t1 + ", 1 thread]"), text);
    assertFalse(text.contains("RECORDED"), text);
    assertTrue(text.contains("WARNING: not the same workload as the PML baseline: " + t1 + ": PML ran batch 256, "
        + "this run 16"), text);
  }

  static Set<String> fields(JsonNode n) {
    Set<String> s = new TreeSet<>();
    n.fieldNames().forEachRemaining(s::add);
    return s;
  }
}
