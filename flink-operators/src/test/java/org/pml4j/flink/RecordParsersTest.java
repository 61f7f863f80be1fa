package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Labels read alike in CSV and JSON, with exact reasons; header detection; byte-order marks. */
class RecordParsersTest {
  static LabeledVector csv(String label) {
    return RecordParsers.parseCsv(label + ",1,2", RecordParsers.CsvLayout.DEFAULT, 0);
  }

  static LabeledVector json(String label) {
    return RecordParsers.parseJson("{\"label\": " + label + ", \"vector\": [1, 2]}", 0);
  }

  /** The label, or the reason and detail of a rejection. */
  static String read(LabeledVector v) {
    return v.parseReason == null ? String.valueOf(v.label) : v.parseReason + ": " + v.parseDetail;
  }

  static void both(String csvText, String jsonText, String expected) {
    assertEquals(expected, read(csv(csvText)), "CSV " + csvText);
    assertEquals(expected, read(json(jsonText)), "JSON " + jsonText);
  }

  @Test
  void csvAndJsonAgreeOnLabels() {
    both("3", "3", "3");
    both("3.0", "3.0", "3");
    both("-2e2", "-2e2", "-200");
    both("9223372036854775807", "9223372036854775807", "9223372036854775807");
    both("9007199254740992.0", "9007199254740992.0", "9007199254740992");
    both("99999999999999999999", "99999999999999999999",
        "bad_label: label 99999999999999999999 is outside the int64 range");
    both("-9223372036854775809", "-9223372036854775809",
        "bad_label: label -9223372036854775809 is outside the int64 range");
    both("3.5", "3.5", "bad_label: label 3.5 is not an integer");
    String beyond = " is a float beyond 2^53, which does not denote one integer exactly; write it as an integer";
    assertEquals("bad_label: label 1e20" + beyond, read(csv("1e20")));
    assertEquals("bad_label: label 1.0E20" + beyond, read(json("1e20"))); // Jackson's rendering of the number
    assertEquals("bad_label: label 'cat' is not a number", read(csv("cat")));
    assertEquals("bad_label: label 'cat' is not a number", read(json("\"cat\"")));
    assertEquals("3", read(json("\"3.0\"")));
    assertEquals("bad_label: label is a JSON boolean, not an integer", read(json("true")));
    assertEquals("bad_label: label NaN is not an integer", read(csv("NaN")));
    assertEquals("null", read(csv(""))); // no label: missing_label in validation
    assertEquals("null", read(json("null")));
  }

  @Test
  void featureValuesThatAreNotNumbersAreMalformed() {
    LabeledVector v = RecordParsers.parseCsv("1,0.5,,abc", RecordParsers.CsvLayout.DEFAULT, 0);
    assertEquals("malformed: feature 1 is empty", read(v)); // the first problem is reported
    LabeledVector w = RecordParsers.parseCsv("1,0.5,1f", RecordParsers.CsvLayout.DEFAULT, 0);
    assertEquals("malformed: feature 1 is not a number: '1f'", read(w));
    LabeledVector n = RecordParsers.parseCsv("1,nan,-inf,Infinity", RecordParsers.CsvLayout.DEFAULT, 0);
    assertNull(n.parseReason); // numbers; validation rejects them as non-finite
    assertTrue(Float.isNaN(n.features[0]));
    assertEquals(Float.NEGATIVE_INFINITY, n.features[1]);
    assertEquals(Float.POSITIVE_INFINITY, n.features[2]);
    assertEquals("malformed: a JSON array, not an object", read(RecordParsers.parseJson("[1, 2]", 0)));
    assertEquals("malformed: feature 1 is a JSON null, not a number",
        read(RecordParsers.parseJson("{\"label\": 1, \"vector\": [1, null]}", 0)));
    assertEquals("malformed: \"vector\" is a JSON string, not an array",
        read(RecordParsers.parseJson("{\"label\": 1, \"vector\": \"1,2\"}", 0)));
  }

  @Test
  void headerDetection() {
    assertEquals(new RecordParsers.CsvLayout(-1, 0), RecordParsers.headerLayout("label,0,1,2", "1,2,3,4"));
    assertEquals(new RecordParsers.CsvLayout(0, 1), RecordParsers.headerLayout("\"ID\",Label,a", null));
    assertEquals(new RecordParsers.CsvLayout(-1, -1), RecordParsers.headerLayout("a,b,c", "1,2,3"));
    assertNull(RecordParsers.headerLayout("a,b,c", "1,2,3,4")); // names, but not as many as the data's fields
    assertNull(RecordParsers.headerLayout("garbage", "1,2,3"));
    assertNull(RecordParsers.headerLayout("1,2,3", "1,2,3"));
    assertTrue(RecordParsers.looksLikeNames("garbage"));
    assertFalse(RecordParsers.looksLikeNames("3,abc"));
    assertEquals("first line 'garbage' is neither a record nor a header (1 field and no 'label' or 'id' column; the "
        + "next line has 3 fields)", RecordParsers.strayFirstLine("garbage", "1,2,3", 0).parseDetail);
    assertEquals("label,a", RecordParsers.stripBom("\uFEFFlabel,a"));
    assertEquals("label,a", RecordParsers.stripBom("label,a"));
  }
}
