package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The output directory's safety rules through Flink's FileSystem, with {@code file://} URIs. */
class OutputLocationTest {
  static final String MARKER = ".pml4j-stream";
  static final Map<String, Predicate<String>> OURS = Map.of(
      "", n -> Set.of("summary.json", "evaluations.jsonl").contains(n),
      "models", n -> n.startsWith("model-v") || n.equals("manifest.json"),
      "savepoints", n -> n.startsWith("savepoint-"));

  @TempDir
  Path tmp;

  private static List<String> tree(Path dir) throws Exception {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString()).sorted().toList();
    }
  }

  @Test
  void refusesAForeignDirectoryAndAFile() throws Exception {
    Path foreign = Files.createDirectories(tmp.resolve("foreign"));
    Files.writeString(foreign.resolve("important-model.onnx"), "mine");
    String uri = foreign.toUri().toString();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OutputLocation.prepare(uri, MARKER, "m", null, OURS));
    assertTrue(e.getMessage().startsWith("output directory " + OutputFileSystem.uri(uri) + " is not empty and is "
        + "not a pml4j stream output (no .pml4j-stream file)"), e.getMessage());
    assertEquals(List.of("important-model.onnx"), tree(foreign), "nothing written or deleted");
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    assertEquals("output directory " + OutputFileSystem.uri(file.toString()) + " is a file",
        assertThrows(IllegalArgumentException.class, () -> OutputLocation.check(file.toString(), MARKER))
            .getMessage());
  }

  @Test
  void aNewRunDeletesOnlyThePreviousRunsOutputs() throws Exception {
    Path dir = tmp.resolve("run");
    String uri = dir.toUri().toString();
    assertEquals(OutputFileSystem.uri(uri), OutputLocation.prepare(uri, MARKER, "ours\n", null, OURS));
    assertEquals("ours\n", Files.readString(dir.resolve(MARKER)));
    for (String f : List.of("summary.json", "evaluations.jsonl", "notes.txt", "models/model-v0000000001.onnx",
        "models/manifest.json", "models/readme.md", "savepoints/savepoint-ab12/_metadata", "savepoints/keep/x")) {
      Files.createDirectories(dir.resolve(f).getParent());
      Files.writeString(dir.resolve(f), f);
    }
    OutputLocation.prepare(uri, MARKER, "ours\n", null, OURS);
    assertEquals(List.of(MARKER, "models/readme.md", "notes.txt", "savepoints/keep/x"), tree(dir));
  }

  @Test
  void restoringFromInsideKeepsEverything() throws Exception {
    Path dir = tmp.resolve("run");
    OutputLocation.prepare(dir.toString(), MARKER, "ours\n", null, OURS);
    Files.createDirectories(dir.resolve("savepoints/savepoint-ab12"));
    Files.writeString(dir.resolve("savepoints/savepoint-ab12/_metadata"), "sp");
    Files.writeString(dir.resolve("summary.json"), "{}");
    // Flink prints savepoints as file:/... (one slash); the directory was given as file:///...
    String savepoint = "file:" + dir.resolve("savepoints/savepoint-ab12");
    OutputLocation.prepare(dir.toUri().toString(), MARKER, "ours\n", savepoint, OURS);
    assertEquals(List.of(MARKER, "savepoints/savepoint-ab12/_metadata", "summary.json"), tree(dir));
    // a savepoint elsewhere (even a sibling whose name starts alike) is not this run
    OutputLocation.prepare(dir.toString(), MARKER, "ours\n", tmp.resolve("run-2/savepoints/savepoint-x").toString(),
        OURS);
    assertFalse(Files.exists(dir.resolve("summary.json")));
    assertFalse(Files.exists(dir.resolve("savepoints/savepoint-ab12")));
  }
}
