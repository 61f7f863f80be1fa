package org.pml4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole csv / jsonl files: the reader's header and line numbers, and the csv / jsonl sources with their rejections. */
class RecordFileTest {
  @TempDir
  Path dir;

  static List<ParsedRecord> readAll(String text, RecordReader.Format f) throws IOException {
    List<ParsedRecord> out = new ArrayList<>();
    try (RecordReader r = new RecordReader(new BufferedReader(new StringReader(text)), f)) {
      for (ParsedRecord rec; (rec = r.next()) != null; ) {
        out.add(rec);
      }
    }
    return out;
  }

  static ObjectNode options(String key, Path p) {
    return JsonNodeFactory.instance.objectNode().put(key, p.toString());
  }

  @Test
  void readerDropsTheBomReadsTheHeaderAndNumbersLines() throws IOException {
    List<ParsedRecord> r = readAll("\uFEFFid,x0,label,x1\n\n7,0.5,3,1.5\n8,abc,4,2\n", RecordReader.Format.CSV);
    assertEquals(2, r.size());
    assertEquals(7, r.get(0).id());
    assertEquals(3L, r.get(0).label());
    assertArrayEquals(new float[] {0.5f, 1.5f}, r.get(0).features());
    assertNull(r.get(0).rejection());
    assertEquals("malformed: line 4: feature 0 is not a number: 'abc'", r.get(1).rejection().toString());
    // Without a header: label first; a stray first line of names is a malformed record, not a header.
    List<ParsedRecord> s = readAll("garbage\n1,2,3\n", RecordReader.Format.CSV);
    assertEquals(2, s.size());
    assertEquals("malformed: line 1: first line 'garbage' is neither a record nor a header (1 field and no 'label' "
        + "or 'id' column; the next line has 3 fields)", s.get(0).rejection().toString());
    assertEquals(1L, s.get(1).label());
    assertEquals(1, s.get(1).id()); // the position: the stray line was record 0
    List<ParsedRecord> j = readAll("{\"label\": 1, \"vector\": [1, 2]}\n\n{\"label\": 2.5, \"vector\": [3, 4]}\n",
        RecordReader.Format.JSON_LINES);
    assertEquals(1L, j.get(0).label());
    assertEquals("bad_label: line 3: label 2.5 is not an integer", j.get(1).rejection().toString());
    assertEquals(RecordReader.Format.JSON_LINES, RecordReader.Format.parse("JSONL"));
    assertThrows(IllegalArgumentException.class, () -> RecordReader.Format.parse("xml"));
  }

  @Test
  void validationRuleInOrder() {
    Rejection parsed = new Rejection(Rejection.MALFORMED, "x");
    assertEquals(parsed, Rejection.check(parsed, 1L, new float[] {1}, 1, true, 0));
    assertEquals("missing_features: no feature vector", Rejection.check(null, 1L, null, 2, true, 0).toString());
    assertEquals("wrong_dimension: expected 2 features, got 1",
        Rejection.check(null, null, new float[] {1}, 2, true, 0).toString());
    assertEquals("missing_label: no label", Rejection.check(null, null, new float[] {1, 2}, 2, true, 0).toString());
    assertNull(Rejection.check(null, null, new float[] {1, 2}, 2, false, 0));
    assertEquals("non_finite: feature 1 is NaN",
        Rejection.check(null, 1L, new float[] {1, Float.NaN}, 2, true, 0).toString());
    assertEquals("out_of_range: feature 0 is 5.0, beyond max_abs_feature 4.0",
        Rejection.check(null, 1L, new float[] {5, 1}, 2, true, 4).toString());
    assertNull(Rejection.check(null, 1L, new float[] {5, 1}, 2, true, 0));
  }

  @Test
  void csvSourceKeepsGoodRowsAndCountsTheRest() throws IOException {
    Path f = dir.resolve("train.csv");
    Files.writeString(f, "label,a,b\n0,1,2\n1,3.5,x\n2.5,1,1\n1,4,5\n,6,7\n0,1,2,3\n1,NaN,1\n1,2e13,0\n2,8,9\n");
    DataSource s = DataSources.open("csv", DataSource.Split.TRAIN, options("train_path", f));
    assertEquals("csv/train", s.name());
    assertEquals(3, s.size());
    assertArrayEquals(new long[] {2}, s.sampleShape());
    LabeledDataset d = s.load(Integer.MAX_VALUE);
    assertArrayEquals(new long[] {0, 1, 2}, d.labels());
    assertArrayEquals(new float[] {4, 5}, d.features()[1]);
    Rejection.Summary r = s.rejections();
    assertEquals(6, r.count());
    assertEquals(Map.of("malformed", 1L, "bad_label", 1L, "missing_label", 1L, "wrong_dimension", 1L,
        "non_finite", 1L, "out_of_range", 1L), r.byReason());
    assertEquals(List.of("malformed", "bad_label", "missing_label", "wrong_dimension", "non_finite"),
        List.copyOf(r.byReason().keySet()).subList(0, 5)); // in the order first seen
    assertEquals(Rejection.Summary.FIRST, r.first().size());
    assertEquals("malformed: line 3: feature 1 is not a number: 'x'", r.first().get(0).toString());
    assertEquals("bad_label: line 4: label 2.5 is not an integer", r.first().get(1).toString());
    assertEquals("wrong_dimension: line 7: expected 2 features, got 3", r.first().get(3).toString());
    assertTrue(r.toString().startsWith("6 (malformed 1, bad_label 1, missing_label 1, wrong_dimension 1, "
        + "non_finite 1, out_of_range 1); first: malformed: line 3: "), r.toString());
  }

  @Test
  void jsonlSourceReadsADirectoryInNameOrderWithAGivenDimension() throws IOException {
    Path d = Files.createDirectory(dir.resolve("parts"));
    Files.writeString(d.resolve("b.jsonl"), "{\"label\": 2, \"vector\": [5, 6]}\n");
    Files.writeString(d.resolve("a.jsonl"), "{\"label\": 1, \"features\": [\"3\", 4]}\n{oops\n");
    Files.writeString(d.resolve(".hidden"), "not read\n");
    ObjectNode o = options("heldout_path", d).put("dimension", 2);
    DataSource s = DataSources.open("jsonl", DataSource.Split.TEST, o);
    assertEquals("jsonl/test", s.name());
    LabeledDataset data = s.load(Integer.MAX_VALUE);
    assertArrayEquals(new long[] {1, 2}, data.labels());
    assertArrayEquals(new float[] {3, 4}, data.features()[0]);
    assertEquals(1, s.rejections().count());
    assertTrue(s.rejections().first().get(0).toString().startsWith("malformed: a.jsonl: line 2: not JSON: "),
        s.rejections().toString());
    // A given dimension that no row has: nothing usable is an error naming the file and the reasons.
    DataSource three = DataSources.open("jsonl", DataSource.Split.TEST, options("heldout_path", d).put("dimension", 3));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, three::size);
    assertTrue(e.getMessage().startsWith("jsonl/test: no usable record in " + d + " (3 records, rejected 3 ("
        + "wrong_dimension 2, malformed 1)"), e.getMessage());
  }

  @Test
  void badOptionsNameTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DataSources.open("csv", DataSource.Split.TEST, options("train_path", dir)));
    assertEquals("csv: heldout_path is required for the test split (a csv file or a directory of them)",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> DataSources.open("csv", DataSource.Split.TRAIN, options("train_path", dir.resolve("nope.csv"))));
    assertEquals("csv.train_path: no such file or directory " + dir.resolve("nope.csv"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> DataSources.open("csv", DataSource.Split.TRAIN, options("train_pth", dir)));
    assertTrue(e.getMessage().contains("unknown parameter [train_pth]"), e.getMessage());
    assertTrue(DataSources.names().containsAll(List.of("csv", "jsonl")));
  }
}
