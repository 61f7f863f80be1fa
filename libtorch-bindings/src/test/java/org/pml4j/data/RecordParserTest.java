package org.pml4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Labels read alike in CSV and JSON, with exact reasons; header detection; byte-order marks. */
class RecordParserTest {
  static ParsedRecord csv(String label) {
    return RecordParser.parseCsv(label + ",1,2", RecordParser.CsvLayout.DEFAULT, 0);
  }

  static ParsedRecord json(String label) {
    return RecordParser.parseJson("{\"label\": " + label + ", \"vector\": [1, 2]}", 0);
  }

  /** The label, or the reason and detail of a rejection. */
  static String read(ParsedRecord v) {
    return v.rejection() == null ? String.valueOf(v.label()) : v.rejection().toString();
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
    ParsedRecord v = RecordParser.parseCsv("1,0.5,,abc", RecordParser.CsvLayout.DEFAULT, 0);
    assertEquals("malformed: feature 1 is empty", read(v)); // the first problem is reported
    ParsedRecord w = RecordParser.parseCsv("1,0.5,1f", RecordParser.CsvLayout.DEFAULT, 0);
    assertEquals("malformed: feature 1 is not a number: '1f'", read(w));
    ParsedRecord n = RecordParser.parseCsv("1,nan,-inf,Infinity", RecordParser.CsvLayout.DEFAULT, 0);
    assertNull(n.rejection()); // numbers; validation rejects them as non-finite
    assertTrue(Float.isNaN(n.features()[0]));
    assertEquals(Float.NEGATIVE_INFINITY, n.features()[1]);
    assertEquals(Float.POSITIVE_INFINITY, n.features()[2]);
    assertEquals("malformed: a JSON array, not an object", read(RecordParser.parseJson("[1, 2]", 0)));
    assertEquals("malformed: feature 1 is a JSON null, not a number",
        read(RecordParser.parseJson("{\"label\": 1, \"vector\": [1, null]}", 0)));
    assertEquals("malformed: \"vector\" is a JSON string, not an array",
        read(RecordParser.parseJson("{\"label\": 1, \"vector\": \"1,2\"}", 0)));
  }

  @Test
  void headerDetection() {
    assertEquals(new RecordParser.CsvLayout(-1, 0), RecordParser.headerLayout("label,0,1,2", "1,2,3,4"));
    assertEquals(new RecordParser.CsvLayout(0, 1), RecordParser.headerLayout("\"ID\",Label,a", null));
    assertEquals(new RecordParser.CsvLayout(-1, -1), RecordParser.headerLayout("a,b,c", "1,2,3"));
    assertNull(RecordParser.headerLayout("a,b,c", "1,2,3,4")); // names, but not as many as the data's fields
    assertNull(RecordParser.headerLayout("garbage", "1,2,3"));
    assertNull(RecordParser.headerLayout("1,2,3", "1,2,3"));
    assertTrue(RecordParser.looksLikeNames("garbage"));
    assertFalse(RecordParser.looksLikeNames("3,abc"));
    assertEquals("first line 'garbage' is neither a record nor a header (1 field and no 'label' or 'id' column; the "
        + "next line has 3 fields)", RecordParser.strayFirstLine("garbage", "1,2,3", 0).rejection().detail());
    assertEquals("label,a", RecordParser.stripBom("\uFEFFlabel,a"));
    assertEquals("label,a", RecordParser.stripBom("label,a"));
  }
}
