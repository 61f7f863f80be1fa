package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.Checkpoints;
import org.pml4j.train.Trainers;

/** train → export → eval on small synthetic data, through the command line. */
class TrainExportEvalTest {
  static final String[] DATA = {"--dataset", "synthetic", "--classes", "4", "--dim", "10", "--spread", "1.2",
      "--train-per-class", "48", "--test-per-class", "24"};

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  /** {@code command DATA... rest...}. */
  static String[] cmd(String command, String... rest) {
    List<String> l = new ArrayList<>(List.of(command));
    l.addAll(List.of(DATA));
    l.addAll(List.of(rest));
    return l.toArray(new String[0]);
  }

  static Map<String, Double> parseMetrics(String out) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (String line : out.strip().split("\n")) {
      String[] p = line.trim().split(" ");
      m.put(p[0], Double.parseDouble(p[1]));
    }
    return m;
  }

  @Test
  void trainExportEvalAgree(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("run");
    String encoder = "{\"class\": \"Sequential\", \"params\": {\"layers\": ["
        + "{\"class\": \"Linear\", \"params\": {\"in_features\": 10, \"out_features\": 32}}, {\"class\": \"ReLU\"},"
        + "{\"class\": \"Linear\", \"params\": {\"in_features\": 32, \"out_features\": 8}},"
        + "{\"class\": \"L2Normalize\"}]}}";
    Run train = run(cmd("train", "--encoder", encoder, "--epochs", "2", "--batch-size", "32",
        "--m-per-class", "8", "--out", out.toString(), "--no-progress", "--seed", "3"));
    assertEquals(0, train.code(), train.err());
    JsonNode metrics = SpecArgs.JSON.readTree(Files.readString(out.resolve("metrics.json")));
    assertEquals(2 * (192 / 32), metrics.get("steps").asLong());
    assertTrue(metrics.get("steps_per_second").asDouble() > 0);
    assertTrue(Double.isFinite(metrics.get("final_loss").asDouble()));
    double p1 = metrics.get("precision_at_1").asDouble();
    double mapr = metrics.get("mean_average_precision_at_r").asDouble();
    assertTrue(p1 > 0.25 && p1 <= 1, "better than chance on 4 classes: " + p1);

    Path exported = dir.resolve("exported.onnx");
    Run export = run("export", "--checkpoint", out.resolve("checkpoint.bin").toString(), "--out", exported.toString());
    assertEquals(0, export.code(), export.err());
    try (OnnxEncoder enc = OnnxEncoder.load(exported)) {
      assertEquals(8, enc.embeddingSize());
      assertEquals(12, enc.trainingStep());
      assertEquals("l2", enc.normalization());
      assertEquals("MetricLossTrainer", enc.metadata().get("trainer"));
      assertEquals(Trainers.toJson(Trainers.configOf(Files.readAllBytes(out.resolve("checkpoint.bin")))).toString(),
          enc.metadata().get("trainer_config"));
    }

    Map<String, Double> fromCheckpoint = evalOk(cmd("eval", "--model", out.resolve("checkpoint.bin").toString()));
    Map<String, Double> fromOnnx = evalOk(cmd("eval", "--model", exported.toString()));
    Map<String, Double> fromTrainOnnx = evalOk(cmd("eval", "--model", out.resolve("model.onnx").toString()));
    assertEquals(List.of("precision_at_1", "mean_average_precision_at_r"), List.copyOf(fromCheckpoint.keySet()));
    for (String k : fromCheckpoint.keySet()) {
      assertEquals(fromCheckpoint.get(k), fromOnnx.get(k), 1e-4, k);
      assertEquals(fromCheckpoint.get(k), fromTrainOnnx.get(k), 1e-4, k);
    }
    // metrics.json was computed the checkpoint's way (LibTorch encoder)
    assertEquals(p1, fromCheckpoint.get("precision_at_1"), 1e-8);
    assertEquals(mapr, fromCheckpoint.get("mean_average_precision_at_r"), 1e-8);
  }

  static Map<String, Double> evalOk(String... args) {
    Run r = run(args);
    assertEquals(0, r.code(), r.err());
    return parseMetrics(r.out());
  }

  @Test
  void trainWithMemoryAndClassifierThenEval(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("cbm");
    Run train = run(cmd("train", "--loss", "ContrastiveLoss", "--miner", "none", "--memory-size", "64",
        "--optimizer", "{\"class\": \"SGD\", \"params\": {\"lr\": 0.05, \"momentum\": 0.9}}", "--batch-size", "32",
        "--out", out.toString(), "--no-progress"));
    assertEquals(0, train.code(), train.err());
    Path out2 = dir.resolve("twc");
    Path lossFile = dir.resolve("loss.json");
    Files.writeString(lossFile, "{\"class\": \"TrainWithClassifier\", \"params\": {\"metric_loss\": "
        + "{\"class\": \"TripletMarginLoss\"}, \"num_classes\": 4, \"loss_weights\": {\"classifier_loss\": 0.5}}}");
    Run twc = run(cmd("train", "--loss", lossFile.toString(), "--batch-size", "32", "--out", out2.toString(),
        "--no-progress"));
    assertEquals(0, twc.code(), twc.err());
    Map<String, Double> a = evalOk(cmd("eval", "--model", out2.resolve("checkpoint.bin").toString()));
    Map<String, Double> b = evalOk(cmd("eval", "--model", out2.resolve("model.onnx").toString()));
    assertEquals(a.get("precision_at_1"), b.get("precision_at_1"), 1e-4);
    assertEquals(a.get("mean_average_precision_at_r"), b.get("mean_average_precision_at_r"), 1e-4);
    try (OnnxEncoder enc = OnnxEncoder.load(out2.resolve("model.onnx"))) {
      assertEquals("TrainWithClassifier", enc.metadata().get("trainer"));
      assertEquals("synthetic", enc.metadata().get("dataset"));
      assertEquals(128, enc.embeddingSize(), "the default encoder");
    }
  }

  @Test
  void userErrorsExitWith2AndOneLine(@TempDir Path dir) {
    Run bad = run(cmd("train", "--loss", "{\"class\": \"NoSuchLoss\"}", "--out", dir.toString(),
        "--no-progress"));
    assertEquals(2, bad.code());
    assertTrue(bad.err().startsWith("pml4j train: unknown class 'NoSuchLoss'"), bad.err());
    Run missing = run("eval", "--model", dir.resolve("none.onnx").toString(), "--dataset", "synthetic");
    assertEquals(2, missing.code(), missing.err());
    Run fm = run("eval", "--model", dir.resolve("none.onnx").toString(), "--dataset", "fashion-mnist",
        "--data-dir", dir.resolve("nowhere").toString());
    assertEquals(2, fm.code());
    assertTrue(fm.err().contains("dataset-fashion-mnist"), fm.err());
    Run width = run(cmd("train", "--batch-size", "8", "--no-progress", "--out", dir.toString(),
        "--encoder", "{\"class\": \"Sequential\", \"params\": {\"layers\": [{\"class\": \"Linear\", "
            + "\"params\": {\"in_features\": 7, \"out_features\": 3}}]}}"));
    assertEquals(2, width.code());
    assertTrue(width.err().contains("takes 7 values per row"), width.err());
  }

  @Test
  void resumeAtAnEpochBoundaryIsBitIdenticalToOneLongerRun(@TempDir Path dir) throws Exception {
    String[] model = {"--batch-size", "32", "--m-per-class", "8", "--no-progress", "--memory-size", "64"};
    Run twoEpochs = run(cat(cmd("train", "--epochs", "2", "--seed", "5", "--out", dir.resolve("two").toString()),
        model));
    assertEquals(0, twoEpochs.code(), twoEpochs.err());
    Run first = run(cat(cmd("train", "--epochs", "1", "--seed", "5", "--out", dir.resolve("one").toString()), model));
    assertEquals(0, first.code(), first.err());
    Run resumed = run(cat(cmd("train", "--epochs", "1", "--resume", dir.resolve("one/checkpoint.bin").toString(),
        "--out", dir.resolve("resumed").toString()), "--batch-size", "32", "--m-per-class", "8", "--no-progress"));
    assertEquals(0, resumed.code(), resumed.err());
    // The optimizer archive's byte layout depends on LibTorch's internal map order, so the states are compared by
    // what they do: same parameters, memory queue and generators, and the same parameters after one more step
    // (which the optimizer moments drive).
    try (BaseTrainer straight = Checkpoints.load(dir.resolve("two/checkpoint.bin"));
        BaseTrainer continued = Checkpoints.load(dir.resolve("resumed/checkpoint.bin"))) {
      assertEquals(straight.steps(), continued.steps());
      assertArrayEquals(straight.encoder().saveState(), continued.encoder().saveState(), "parameters");
      assertEquals(straight.memory().stateSnapshot().get("queue_idx"),
          continued.memory().stateSnapshot().get("queue_idx"));
      float[][] x = new float[32][10];
      long[] y = new long[32];
      for (int i = 0; i < 32; i++) {
        y[i] = i % 4;
        for (int j = 0; j < 10; j++) {
          x[i][j] = (float) Math.sin(i * 10 + j + y[i]);
        }
      }
      assertEquals(Double.doubleToRawLongBits(straight.trainStep(x, y).loss()),
          Double.doubleToRawLongBits(continued.trainStep(x, y).loss()));
      assertArrayEquals(straight.encoder().saveState(), continued.encoder().saveState(),
          "parameters after one more step (Adam moments, memory queue)");
      assertEquals(straight.random().nextLong(), continued.random().nextLong(), "java Random continues");
    }
    JsonNode m = SpecArgs.JSON.readTree(Files.readString(dir.resolve("resumed/metrics.json")));
    assertEquals(12, m.get("steps").asLong());
    assertEquals(6, m.get("resumed_at_step").asLong());
    assertArrayEquals(Files.readAllBytes(dir.resolve("two/model.onnx")),
        Files.readAllBytes(dir.resolve("resumed/model.onnx")), "the same ONNX export");

    Run clash = run(cat(cmd("train", "--epochs", "1", "--resume", dir.resolve("one/checkpoint.bin").toString(),
        "--loss", "ContrastiveLoss", "--out", dir.resolve("clash").toString()), "--no-progress"));
    assertEquals(2, clash.code());
    assertTrue(clash.err().contains("--loss cannot be combined with --resume"), clash.err());
    Run missing = run(cmd("train", "--resume", dir.resolve("nope.bin").toString(), "--out",
        dir.resolve("missing").toString(), "--no-progress"));
    assertTrue(missing.code() != 0 && missing.err().contains("nope.bin"), missing.err());
  }

  private static String[] cat(String[] a, String... b) {
    List<String> l = new ArrayList<>(List.of(a));
    l.addAll(List.of(b));
    return l.toArray(new String[0]);
  }
}
