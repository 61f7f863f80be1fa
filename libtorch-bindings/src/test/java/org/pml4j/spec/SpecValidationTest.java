package org.pml4j.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.pml4j.losses.ArcFaceLoss;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.ManifoldLoss;
import org.pml4j.losses.TripletMarginLoss;
import org.pml4j.reducers.ThresholdReducer;

/**
 * Spec values that would build a silently broken component are rejected with the key's name: NaN and infinite
 * numbers (also {@code 1e400}, which JSON parsers read as infinity), integers beyond Java's int range (never
 * truncated), and text after the spec's JSON.
 */
class SpecValidationTest {
  private static String message(String spec) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Registry.build(spec));
    return e.getMessage();
  }

  private static void assertMessage(String spec, String... parts) {
    String m = message(spec);
    for (String p : parts) {
      assertTrue(m.contains(p), "expected '" + p + "' in: " + m);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"\"NaN\"", "\"nan\"", "\"inf\"", "\"Infinity\"", "\"-inf\"", "1e400", "-1e400"})
  void nonFiniteMarginsAreRejectedWithTheKeyName(String margin) {
    assertMessage("{\"class\": \"TripletMarginLoss\", \"params\": {\"margin\": " + margin + "}}",
        "TripletMarginLoss.margin: expected a finite number");
    assertMessage("{\"class\": \"ContrastiveLoss\", \"params\": {\"pos_margin\": 0, \"neg_margin\": " + margin + "}}",
        "ContrastiveLoss.neg_margin: expected a finite number");
  }

  @Test
  void finiteMarginsStillBuild() {
    assertEquals(0.25, Registry.build("{\"class\": \"TripletMarginLoss\", \"params\": {\"margin\": 0.25}}",
        TripletMarginLoss.class).margin());
    assertEquals(1e300, Registry.build("{\"class\": \"TripletMarginLoss\", \"params\": {\"margin\": 1e300}}",
        TripletMarginLoss.class).margin());
  }

  @Test
  void infinityWhereItMeansSomething() {
    // PML: ManifoldLoss(lambdaC=np.inf) drops the context loss; ThresholdReducer bounds may be infinite
    ManifoldLoss m = Registry.build("{\"class\": \"ManifoldLoss\", \"params\": {\"l\": 4, \"lambdaC\": \"inf\"}}",
        ManifoldLoss.class);
    assertEquals(Double.POSITIVE_INFINITY, m.lambdaC());
    assertMessage("{\"class\": \"ManifoldLoss\", \"params\": {\"l\": 4, \"lambdaC\": \"NaN\"}}",
        "ManifoldLoss.lambdaC", "NaN is not allowed");
    assertMessage("{\"class\": \"ManifoldLoss\", \"params\": {\"l\": 4, \"lambdaC\": 1e400}}",
        "ManifoldLoss.lambdaC: expected a finite number, got Infinity (beyond the range of a double)");
    ThresholdReducer r = Registry.build("{\"class\": \"ThresholdReducer\", \"params\": {\"low\": \"-inf\", "
        + "\"high\": 3}}", ThresholdReducer.class);
    assertEquals(Double.NEGATIVE_INFINITY, r.low());
  }

  @Test
  void integersBeyondIntAreRejectedNotTruncated() {
    // 4294967300 = 2^32 + 4 used to become 4; 4294967312 = 2^32 + 16 used to become 16
    assertMessage("{\"class\": \"ArcFaceLoss\", \"params\": {\"num_classes\": 4294967300, \"embedding_size\": 4}}",
        "ArcFaceLoss.num_classes: expected an integer in [-2147483648, 2147483647], got 4294967300 (out of range)");
    assertMessage("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": \"ContrastiveLoss\", "
        + "\"embedding_size\": 4, \"memory_size\": 4294967312}}", "CrossBatchMemory.memory_size", "4294967312",
        "out of range");
    assertMessage("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": \"ContrastiveLoss\", "
        + "\"embedding_size\": 4, \"memory_size\": 4.294967312e9}}", "CrossBatchMemory.memory_size", "out of range");
    assertMessage("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": \"ContrastiveLoss\", "
        + "\"embedding_size\": 4, \"memory_size\": 1e400}}", "CrossBatchMemory.memory_size", "expected an integer");
    assertMessage("{\"class\": \"TripletMarginLoss\", \"params\": {\"triplets_per_anchor\": 4294967297}}",
        "TripletMarginLoss.triplets_per_anchor", "out of range");
    assertMessage("{\"class\": \"ArcFaceLoss\", \"params\": {\"num_classes\": 2.5, \"embedding_size\": 4}}",
        "ArcFaceLoss.num_classes: expected an integer");
    // within range: as before (3.0 is an integer, as in Python)
    ArcFaceLoss arc = Registry.build("{\"class\": \"ArcFaceLoss\", \"params\": {\"num_classes\": 5.0, "
        + "\"embedding_size\": 4}}", ArcFaceLoss.class);
    assertEquals(5, arc.parameters().get("W").size(1));
    assertEquals(63, Registry.build("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": \"ContrastiveLoss\", "
        + "\"embedding_size\": 4, \"memory_size\": 63}}", CrossBatchMemory.class).memorySize());
  }

  @Test
  void textAfterTheSpecIsRejected() {
    assertMessage("{\"class\": \"TripletMarginLoss\"} xyz", "spec: not valid JSON at line 1");
    assertMessage("{\"class\": \"TripletMarginLoss\"} {\"class\": \"ContrastiveLoss\"}",
        "spec: not valid JSON at line 1");
    assertMessage("\"MeanReducer\" 1", "spec: not valid JSON at line 1");
    assertMessage("", "spec is empty");
    assertThrows(IllegalArgumentException.class, () -> Registry.build((String) null));
    // whitespace after it is fine
    assertTrue(Registry.build("{\"class\": \"TripletMarginLoss\"}  \n ") instanceof TripletMarginLoss);
  }

  @Test
  void nonFiniteListEntriesAreRejected() {
    assertMessage("{\"class\": \"ClassWeightedReducer\", \"params\": {\"weights\": [1, 1e400]}}",
        "ClassWeightedReducer.weights[1]: expected a finite number");
  }
}
