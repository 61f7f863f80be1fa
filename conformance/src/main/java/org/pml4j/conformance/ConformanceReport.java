package org.pml4j.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.pml4j.conformance.CaseRunner.Result;
import org.pml4j.conformance.CaseRunner.Status;
import org.pml4j.spec.Registry;

/**
 * Runs every case under some directories, checks that the manifest's {@code skipped_variants} of implemented classes
 * are rejected, and prints a table by kind and class ending with {@code N passed, M failed, K skipped}.
 */
public final class ConformanceReport {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<Result> results = new ArrayList<>();
  private final List<Result> rejections = new ArrayList<>();

  /** All case results, in run order. */
  public List<Result> results() {
    return results;
  }

  /** The skipped-variant rejection checks (one per manifest entry of an implemented class). */
  public List<Result> rejections() {
    return rejections;
  }

  /** Runs every {@code *.json} case under the paths (files or directories, recursively). */
  public ConformanceReport run(List<Path> paths) throws IOException {
    CaseRunner runner = new CaseRunner();
    List<Path> files = new ArrayList<>();
    List<Path> manifests = new ArrayList<>();
    for (Path p : paths) {
      if (!Files.exists(p)) {
        throw new IOException("no such file or directory: " + p);
      }
      try (Stream<Path> s = Files.walk(p)) {
        s.filter(f -> f.toString().endsWith(".json")).sorted().forEach(f -> {
          if (f.getFileName().toString().equals("manifest.json")) {
            manifests.add(f);
          } else {
            files.add(f);
          }
        });
      }
    }
    Map<String, JsonNode> firstCaseOfClass = new TreeMap<>();
    for (Path f : files) {
      JsonNode c;
      try {
        c = JSON.readTree(f.toFile());
      } catch (IOException e) {
        results.add(new Result(f.toString(), "?", "?", Status.FAILED, "unreadable case: " + e.getMessage()));
        continue;
      }
      if (!c.has("kind") || !c.has("class")) {
        continue;
      }
      firstCaseOfClass.putIfAbsent(c.get("class").asText(), c);
      results.add(runner.run(c));
    }
    for (Path m : manifests) {
      JsonNode man = JSON.readTree(m.toFile());
      for (JsonNode sv : man.path("skipped_variants")) {
        String cls = sv.path("class").asText();
        if (!Registry.isRegistered(cls)) {
          continue;
        }
        rejections.add(SkippedVariants.check(sv, firstCaseOfClass.get(cls)));
      }
    }
    return this;
  }

  public long count(Status s) {
    return results.stream().filter(r -> r.status() == s).count()
        + (s == Status.FAILED ? rejections.stream().filter(r -> r.status() == Status.FAILED).count() : 0);
  }

  /** Whether any case or rejection check failed. */
  public boolean anyFailed() {
    return count(Status.FAILED) > 0;
  }

  /** Prints the table, the failures, and the closing count line. */
  public void print(PrintStream out, boolean verbose) {
    Map<String, int[]> table = new TreeMap<>();
    for (Result r : results) {
      int[] t = table.computeIfAbsent(r.kind() + "\t" + r.className(), k -> new int[3]);
      t[r.status().ordinal()]++;
    }
    out.printf("%-20s %-36s %7s %7s %8s%n", "kind", "class", "passed", "failed", "skipped");
    for (Map.Entry<String, int[]> e : table.entrySet()) {
      String[] k = e.getKey().split("\t");
      int[] t = e.getValue();
      out.printf("%-20s %-36s %7d %7d %8d%n", k[0], k[1], t[0], t[1], t[2]);
    }
    long rejOk = rejections.stream().filter(r -> r.status() == Status.PASSED).count();
    out.printf("skipped_variants rejected with an exception: %d of %d%n", rejOk, rejections.size());
    for (Result r : results) {
      if (r.status() == Status.FAILED) {
        out.println("FAILED " + r.id() + ": " + r.message());
      } else if (verbose && r.status() == Status.SKIPPED) {
        out.println("SKIPPED " + r.id() + ": " + r.message());
      }
    }
    for (Result r : rejections) {
      if (r.status() == Status.FAILED) {
        out.println("FAILED " + r.id() + ": " + r.message());
      }
    }
    out.println(count(Status.PASSED) + " passed, " + count(Status.FAILED) + " failed, " + count(Status.SKIPPED)
        + " skipped");
  }

  static ObjectNode object() {
    return JSON.createObjectNode();
  }
}
