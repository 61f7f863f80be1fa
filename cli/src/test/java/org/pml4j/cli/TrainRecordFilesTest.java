package org.pml4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.cli.TrainExportEvalTest.Run;
import org.pml4j.onnx.OnnxEncoder;

/**
 * {@code pml4j train --dataset csv|jsonl}: files written here, one epoch, a model.onnx that ONNX Runtime loads; bad
 * lines left out, counted in metrics.json and reported on stderr with their line numbers.
 */
class TrainRecordFilesTest {
  static final int CLASSES = 4;
  static final int DIM = 6;

  @TempDir
  Path dir;

  /** Seeded clusters: {@code perClass} rows of each class, centre {@code 3 * e_class}, noise 0.5. */
  static float[][] rows(int perClass, long seed, long[] labels) {
    Random r = new Random(seed);
    float[][] x = new float[perClass * CLASSES][DIM];
    for (int i = 0; i < x.length; i++) {
      labels[i] = i % CLASSES;
      for (int j = 0; j < DIM; j++) {
        x[i][j] = (float) ((j == labels[i] ? 3 : 0) + 0.5 * r.nextGaussian());
      }
    }
    return x;
  }

  static String csv(int perClass, long seed, boolean header) {
    long[] y = new long[perClass * CLASSES];
    float[][] x = rows(perClass, seed, y);
    StringBuilder b = new StringBuilder(header ? "label,f0,f1,f2,f3,f4,f5\n" : "");
    for (int i = 0; i < x.length; i++) {
      b.append(y[i]);
      for (float v : x[i]) {
        b.append(',').append(String.format(Locale.ROOT, "%.5f", v));
      }
      b.append('\n');
    }
    return b.toString();
  }

  static String jsonl(int perClass, long seed) {
    long[] y = new long[perClass * CLASSES];
    float[][] x = rows(perClass, seed, y);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < x.length; i++) {
      b.append("{\"label\": ").append(y[i]).append(", \"vector\": [");
      for (int j = 0; j < DIM; j++) {
        b.append(j > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.5f", x[i][j]));
      }
      b.append("]}\n");
    }
    return b.toString();
  }

  Run train(String dataset, Path trainFile, Path heldoutFile, Path out) {
    return TrainExportEvalTest.run("train", "--dataset", dataset, "--set", "train_path=" + trainFile,
        "--set", "heldout_path=" + heldoutFile, "--epochs", "1", "--batch-size", "32", "--out", out.toString(),
        "--no-progress", "--seed", "1");
  }

  static void checkModel(Path out, long trainRows, long testRows, long rejectedTrain) throws Exception {
    JsonNode m = SpecArgs.JSON.readTree(Files.readString(out.resolve("metrics.json")));
    assertEquals(trainRows, m.get("train_rows").asLong());
    assertEquals(testRows, m.get("test_rows").asLong());
    assertEquals(rejectedTrain, m.get("rejected_train_records").asLong());
    assertEquals(0, m.get("rejected_test_records").asLong());
    assertEquals(trainRows / 32, m.get("steps").asLong());
    assertTrue(m.get("precision_at_1").asDouble() > 0.5, "well-separated clusters: " + m);
    try (OnnxEncoder enc = OnnxEncoder.load(out.resolve("model.onnx"))) {
      assertEquals(DIM, enc.inputSize());
      assertEquals(trainRows / 32, enc.trainingStep());
      assertEquals(128, enc.embeddingSize()); // the default encoder: Linear(6, 512), ReLU, Linear(512, 128)
    }
  }

  @Test
  void trainsOnCsvAndLeavesOutBadLines() throws Exception {
    Path train = dir.resolve("train.csv");
    // A header, 128 good rows, then two bad lines (lines 130 and 131).
    Files.writeString(train, csv(32, 1, true) + "3.5,1,2,3,4,5,6\n1,2,3\n");
    Path test = dir.resolve("test.csv");
    Files.writeString(test, csv(10, 2, false));
    Path out = dir.resolve("csv-run");
    Run r = train("csv", train, test, out);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("pml4j train: csv/train: left out 2 of 130 records (bad_label 1, wrong_dimension 1); "
        + "first: bad_label: line 130: label 3.5 is not an integer; wrong_dimension: line 131: expected 6 features, "
        + "got 2"), r.err());
    checkModel(out, 128, 40, 2);
  }

  @Test
  void trainsOnJsonLines() throws Exception {
    Path train = dir.resolve("train.jsonl");
    Files.writeString(train, jsonl(32, 3));
    Path test = dir.resolve("test.jsonl");
    Files.writeString(test, jsonl(10, 4));
    Path out = dir.resolve("jsonl-run");
    Run r = train("jsonl", train, test, out);
    assertEquals(0, r.code(), r.err());
    assertTrue(!r.err().contains("left out"), r.err());
    checkModel(out, 128, 40, 0);
    JsonNode m = SpecArgs.JSON.readTree(Files.readString(out.resolve("metrics.json")));
    assertEquals("jsonl", m.get("dataset").asText());
  }

  @Test
  void aMissingPathOrAFileWithoutAUsableLineIsAUserError() throws Exception {
    Path train = dir.resolve("train.csv");
    Files.writeString(train, csv(8, 1, false));
    Run r = TrainExportEvalTest.run("train", "--dataset", "csv", "--set", "train_path=" + train, "--out",
        dir.resolve("o").toString(), "--no-progress");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("csv: heldout_path is required for the test split"), r.err());
    Path bad = dir.resolve("bad.csv");
    Files.writeString(bad, "1,x,y\n2,z,w\n");
    r = train("csv", train, bad, dir.resolve("o2"));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("csv/test: no usable record in " + bad + " (2 records, rejected 2 (malformed 2); "
        + "first: malformed: line 1: feature 0 is not a number: 'x'"), r.err());
  }
}
