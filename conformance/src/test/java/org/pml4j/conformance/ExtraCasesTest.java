package org.pml4j.conformance;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.parallel.Isolated;
import org.pml4j.conformance.CaseRunner.Result;
import org.pml4j.conformance.CaseRunner.Status;

/**
 * Regenerated PML cases (other seeds, shapes and parameter values than the public set) that once disagreed with
 * pml4j, run through the registry in float64 and float32 like the golden cases.
 */
@Isolated
class ExtraCasesTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TestFactory
  Stream<DynamicTest> everyExtraCase() throws Exception {
    Path dir = Paths.get(ExtraCasesTest.class.getResource("/conformance/extra/README.md").toURI()).getParent();
    List<Path> files;
    try (Stream<Path> s = Files.walk(dir)) {
      files = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
    }
    assertFalse(files.isEmpty(), "no extra cases under " + dir);
    CaseRunner runner = new CaseRunner();
    return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> {
      JsonNode c = JSON.readTree(f.toFile());
      Result r = runner.run(c);
      if (r.status() != Status.PASSED) {
        fail(r.id() + ": " + r.status() + " " + r.message());
      }
    }));
  }
}
