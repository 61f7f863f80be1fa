package org.pml4j.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.parallel.Isolated;
import org.pml4j.conformance.CaseRunner.Result;
import org.pml4j.conformance.CaseRunner.Status;
import org.pml4j.spec.Registry;

/**
 * Every public golden case of PML (copied into the test resources) through the registry, in float64 and float32.
 * A case of an implemented class must pass; a case of a class not implemented yet is reported as skipped.
 */
@Isolated
class GoldenCasesTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  static Path casesDir() throws URISyntaxException {
    return Paths.get(GoldenCasesTest.class.getResource("/conformance/cases/manifest.json").toURI()).getParent();
  }

  @TestFactory
  Stream<DynamicTest> everyGoldenCase() throws Exception {
    List<Path> files;
    try (Stream<Path> s = Files.walk(casesDir())) {
      files = s.filter(p -> p.toString().endsWith(".json") && !p.getFileName().toString().equals("manifest.json"))
          .sorted().toList();
    }
    assertEquals(715, files.size(), "the public case set has 715 cases");
    CaseRunner runner = new CaseRunner();
    return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> {
      JsonNode c = read(f);
      Result r = runner.run(c);
      if (r.status() == Status.SKIPPED) {
        org.junit.jupiter.api.Assumptions.abort(r.message());
      }
      if (r.status() != Status.PASSED) {
        fail(r.id() + ": " + r.message());
      }
    }));
  }

  @Test
  void skippedVariantsOfImplementedClassesAreRejected() throws Exception {
    ConformanceReport report = new ConformanceReport().run(List.of(casesDir()));
    assertTrue(report.rejections().size() > 0, "at least one implemented class has PML-rejected variants");
    for (Result r : report.rejections()) {
      assertEquals(Status.PASSED, r.status(), r.id() + ": " + r.message());
    }
  }

  @Test
  void reportCountsAddUpAndEndWithTheSummaryLine() throws Exception {
    ConformanceReport report = new ConformanceReport().run(List.of(casesDir().resolve("distance")));
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    report.print(new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8), false);
    String[] lines = bytes.toString(java.nio.charset.StandardCharsets.UTF_8).split("\n");
    assertEquals("39 passed, 0 failed, 0 skipped", lines[lines.length - 1]);
  }

  @Test
  void aWrongExpectationFailsWithTheCaseIdAndTheFirstMismatch() throws Exception {
    JsonNode c = read(casesDir().resolve("distance/s0-distance-LpDistance-000.json"));
    ((com.fasterxml.jackson.databind.node.ArrayNode) c.get("expected").get("mat").get(0)).set(1,
        JSON.getNodeFactory().numberNode(123.0));
    Result r = new CaseRunner().run(c);
    assertEquals(Status.FAILED, r.status());
    assertTrue(r.message().startsWith("float64 mat[0][1]: expected 123.0"), r.message());
    assertEquals("s0-distance-LpDistance-000", r.id());
  }

  @Test
  void unknownClassesAreSkippedNotFailed() {
    JsonNode c = JSON.createObjectNode().put("id", "x").put("kind", "loss").put("class", "NoSuchLoss");
    Result r = new CaseRunner().run(c);
    assertEquals(Status.SKIPPED, r.status());
    assertTrue(!Registry.isRegistered("NoSuchLoss"));
  }

  private static JsonNode read(Path f) {
    try {
      return JSON.readTree(f.toFile());
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }
}
