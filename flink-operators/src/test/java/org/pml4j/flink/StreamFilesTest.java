package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming job on CSV files whose first line is a byte-order mark, garbage or a header, and on a record that
 * overflows float32 in the encoder: every job finishes and writes summary.json, {@code samples} counts every good
 * record, and every bad line is in rejected.jsonl with a reason.
 */
class StreamFilesTest {
  static final int DIM = 16;
  static final int ROWS = 300;

  @TempDir
  Path tmp;

  /** {@code n} data lines {@code label,f0..f15} of 4 separable classes. */
  static List<String> lines(int n, long seed) {
    Random r = new Random(seed);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int c = i % 4;
      StringBuilder b = new StringBuilder().append(c);
      for (int j = 0; j < DIM; j++) {
        b.append(',').append(String.format(Locale.ROOT, "%.4f", (j % 4 == c ? 2.0 : 0.0) + r.nextGaussian() * 0.3));
      }
      out.add(b.toString());
    }
    return out;
  }

  /** A wide encoder without normalization: a row of 3e38 values overflows to Inf/NaN. */
  static String trainer() {
    return """
        {"encoder": {"class": "Sequential", "params": {"layers": [
            {"class": "Linear", "params": {"in_features": 16, "out_features": 64}},
            {"class": "ReLU"},
            {"class": "Linear", "params": {"in_features": 64, "out_features": 8}}]}},
         "loss": {"class": "TripletMarginLoss", "params": {"margin": 0.2}},
         "optimizer": {"class": "Adam", "params": {"lr": 0.01}},
         "seed": 3, "threads": 1}""";
  }

  JsonNode run(String name, String trainText, String... extra) throws Exception {
    Path train = tmp.resolve(name + ".csv");
    Files.writeString(train, trainText, StandardCharsets.UTF_8);
    Path heldout = tmp.resolve(name + "-heldout.csv");
    Files.writeString(heldout, String.join("\n", lines(40, 99)) + "\n");
    List<String> args = new ArrayList<>(List.of("--output-dir", tmp.resolve(name).toString(), "--dataset", "csv",
        "--dimension", "16", "--train-path", train.toString(), "--heldout-path", heldout.toString(),
        "--batch-size", "20", "--train-final-partial-batch", "true", "--publish-every-steps", "5", "--evaluate", "none",
        "--checkpoint-interval-ms", "0", "--web-ui-port", "0", "--trainer", trainer()));
    args.addAll(List.of(extra));
    JsonNode s = StreamingJob.run(StreamJobConfig.fromArgs(args.toArray(String[]::new)), TrainerFactory.DEFAULT,
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertTrue(Files.exists(tmp.resolve(name).resolve(StreamingJob.SUMMARY)));
    return s;
  }

  List<JsonNode> rejected(String name) throws Exception {
    Path p = tmp.resolve(name).resolve(StreamingJob.REJECTED);
    List<JsonNode> out = new ArrayList<>();
    if (Files.exists(p)) {
      for (String l : Files.readAllLines(p)) {
        out.add(TestSupport.readJsonString(l));
      }
    }
    return out;
  }

  @Test
  void aByteOrderMarkBeforeTheFirstRecordLosesNothing() throws Exception {
    JsonNode s = run("bom", "\uFEFF" + String.join("\n", lines(ROWS, 1)) + "\n");
    assertEquals(ROWS, s.path("samples").asLong(), s.toString());
    assertEquals(0, s.path("rejected").asLong());
    assertEquals(List.of(), rejected("bom"));
  }

  @Test
  void aByteOrderMarkBeforeAHeaderLosesNothing() throws Exception {
    StringBuilder header = new StringBuilder("\uFEFFlabel");
    for (int j = 0; j < DIM; j++) {
      header.append(",f").append(j);
    }
    JsonNode s = run("bom-header", header + "\n" + String.join("\n", lines(ROWS, 2)) + "\n");
    assertEquals(ROWS, s.path("samples").asLong(), s.toString());
    assertEquals(0, s.path("rejected").asLong());
  }

  @Test
  void aGarbageFirstLineIsRejectedAloneWithItsLineNumber() throws Exception {
    JsonNode s = run("garbage", "%PDF-1.4 garbage!\n" + String.join("\n", lines(ROWS, 3)) + "\n");
    assertEquals(ROWS, s.path("samples").asLong(), s.toString());
    assertEquals(1, s.path("rejected").asLong());
    List<JsonNode> r = rejected("garbage");
    assertEquals(1, r.size());
    assertEquals(RejectedRecord.MALFORMED, r.get(0).path("reason").asText());
    assertTrue(r.get(0).path("detail").asText().startsWith("line 1: first line '%PDF-1.4 garbage!' is neither a "
        + "record nor a header"), r.get(0).toString());
  }

  /** Line 151 (id 150): sixteen finite 3e38 values. */
  String overflowing() {
    List<String> l = lines(ROWS, 4);
    StringBuilder b = new StringBuilder("2");
    for (int j = 0; j < DIM; j++) {
      b.append(",3e38");
    }
    l.set(150, b.toString());
    return String.join("\n", l) + "\n";
  }

  @Test
  void anOverflowingRecordIsRejectedByTheMagnitudeBound() throws Exception {
    JsonNode s = run("bound", overflowing());
    assertEquals(ROWS - 1, s.path("samples").asLong(), s.toString());
    assertEquals(1, s.path("rejected").asLong());
    assertEquals(0, s.path("skipped_nonfinite").asLong());
    List<JsonNode> r = rejected("bound");
    assertEquals(1, r.size());
    assertEquals(150, r.get(0).path("id").asLong());
    assertEquals(RejectedRecord.OUT_OF_RANGE, r.get(0).path("reason").asText());
    assertEquals("feature 0 is 3.0E38, beyond max_abs_feature 1.0E12", r.get(0).path("detail").asText());
  }

  @Test
  void withoutTheBoundTheTrainerSkipsTheOverflowingBatchAndTheJobFinishes() throws Exception {
    JsonNode s = run("guard", overflowing(), "--max-abs-feature", "0");
    // Batches of 20: the 8th (ids 140..159) overflows; its 20 records are rejected, the other 280 trained.
    assertEquals(ROWS - 20, s.path("samples").asLong(), s.toString());
    assertEquals(1, s.path("skipped_nonfinite").asLong());
    assertEquals(20, s.path("rejected").asLong());
    List<JsonNode> r = rejected("guard");
    assertEquals(20, r.size());
    for (int i = 0; i < r.size(); i++) {
      assertEquals(RejectedRecord.NONFINITE_STEP, r.get(i).path("reason").asText());
      assertTrue(r.get(i).path("detail").asText().startsWith("training step skipped: non-finite encoder output in 1 "
          + "of 20 rows"), r.get(i).toString());
    }
    assertEquals(List.of(140L, 141L, 142L, 143L, 144L, 145L, 146L, 147L, 148L, 149L, 150L, 151L, 152L, 153L, 154L,
        155L, 156L, 157L, 158L, 159L), r.stream().map(x -> x.path("id").asLong()).sorted().toList());
    assertEquals(ROWS / 20 - 1, s.path("final_step").asLong());
  }

  @Test
  void aMissingInputFileIsAnErrorNamingTheKeyBeforeTheJobStarts() {
    Path out = tmp.resolve("missing");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StreamingJob.run(
        StreamJobConfig.fromArgs("--output-dir", out.toString(), "--dataset", "csv", "--train-path",
            tmp.resolve("nope.csv").toString(), "--heldout-path", tmp.resolve("nope.csv").toString(),
            "--trainer", trainer()), TrainerFactory.DEFAULT, System.out));
    assertEquals("train_path: no such file or directory " + tmp.resolve("nope.csv").toAbsolutePath(), e.getMessage());
    assertTrue(!Files.exists(out), "nothing was started or written");
  }
}
