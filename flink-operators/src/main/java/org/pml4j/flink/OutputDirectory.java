package org.pml4j.flink;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The stream job's output directory, and every file access of the job outside Flink's sinks and checkpoints: the
 * ownership check and clean-up before a run, {@code config.json}, the atomic write of {@code summary.json}, and the
 * reading of the report lines that the summary is built from; and the names of the files and directories in it.
 */
public final class OutputDirectory {
  /** The published ONNX models and their manifest ({@link ModelPublisherSink}). */
  public static final String MODELS = "models";
  /** Flink's checkpoints (where the cluster configures no checkpoint storage). */
  public static final String CHECKPOINTS = "checkpoints";
  /** The savepoints of a stop by {@code duration_seconds}. */
  public static final String SAVEPOINTS = "savepoints";
  /** The run's summary ({@link StreamReport}). */
  public static final String SUMMARY = "summary.json";
  /** One line per evaluated model version. */
  public static final String EVALUATIONS = "evaluations.jsonl";
  /** One line per published model version. */
  public static final String MODEL_UPDATES = "model_updates.jsonl";
  /** One line per rejected record. */
  public static final String REJECTED = "rejected.jsonl";
  /** One line per embedding ({@code write_embeddings}). */
  public static final String EMBEDDINGS = "embeddings.jsonl";
  /** The marker file that {@link #prepare} writes: the directory holds pml4j stream outputs. */
  public static final String MARKER = ".pml4j-stream";
  /** The job's configuration as JSON, written before the run. */
  public static final String CONFIG = "config.json";

  private static final Pattern MODEL_FILE = Pattern.compile("model-v\\d+\\.onnx");
  private static final Pattern JOB_ID = Pattern.compile("[0-9a-f]{32}");

  private OutputDirectory() {}

  /**
   * Makes {@code dir} ready for a run without ever deleting what pml4j did not write:
   *
   * <ul>
   *   <li>missing or empty: created, and the marker file {@value #MARKER} written;
   *   <li>not empty and without the marker: refused with an {@link IllegalArgumentException} (it is not a pml4j
   *       output directory);
   *   <li>with the marker and {@code restoreFrom} inside it: nothing is deleted, the restored run continues there
   *       (its report lines are appended; readers keep the last line per model version);
   *   <li>with the marker otherwise: the previous run's outputs are deleted by name (the report files, {@code
   *       models/model-v*.onnx} and {@code models/manifest.json}, Flink's {@code checkpoints/<job id>} and {@code
   *       savepoints/savepoint-*} directories). Any other file stays.
   * </ul>
   *
   * @param restoreFrom the checkpoint or savepoint the run restores from (path or {@code file:} URI), or null
   */
  public static void prepare(Path dir, String restoreFrom) throws IOException {
    dir = check(dir);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(MARKER), "This directory holds the outputs of pml4j stream. A new run here deletes "
        + "the previous run's outputs (reports, model-v*.onnx, manifest.json, Flink checkpoints and savepoints) and "
        + "nothing else.\n");
    if (restoreFrom != null && !restoreFrom.isBlank()) {
      URI from = URI.create(restoreUri(restoreFrom));
      if ("file".equals(from.getScheme()) && Path.of(from).normalize().startsWith(dir)) {
        return; // continuing this directory's run
      }
    }
    for (String name : new String[] {SUMMARY, EVALUATIONS, MODEL_UPDATES,
        REJECTED, EMBEDDINGS}) {
      Files.deleteIfExists(dir.resolve(name));
    }
    deleteChildren(dir.resolve(MODELS),
        p -> MODEL_FILE.matcher(p).matches() || p.equals("manifest.json"));
    deleteChildren(dir.resolve(CHECKPOINTS), p -> JOB_ID.matcher(p).matches());
    deleteChildren(dir.resolve(SAVEPOINTS), p -> p.startsWith("savepoint-"));
  }

  /**
   * Checks, without changing anything, that {@code dir} can hold a run: missing, empty, or marked as a pml4j stream
   * output (see {@link #prepare}).
   *
   * @return the absolute, normalized directory
   * @throws IllegalArgumentException when {@code dir} is a file, or a non-empty directory without the marker
   */
  public static Path check(Path dir) throws IOException {
    dir = dir.toAbsolutePath().normalize();
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new IllegalArgumentException("output directory " + dir + " is a file");
    }
    boolean empty;
    if (!Files.exists(dir)) {
      empty = true;
    } else {
      try (var list = Files.list(dir)) {
        empty = list.findAny().isEmpty();
      }
    }
    if (!empty && !Files.exists(dir.resolve(MARKER))) {
      throw new IllegalArgumentException("output directory " + dir + " is not empty and is not a pml4j stream output "
          + "(no " + MARKER + " file): pml4j never deletes or overwrites files it did not write; choose a new or "
          + "empty directory");
    }
    return dir;
  }

  private static void deleteChildren(Path parent, Predicate<String> ours) throws IOException {
    if (!Files.isDirectory(parent)) {
      return;
    }
    List<Path> children;
    try (var list = Files.list(parent)) {
      children = list.filter(p -> ours.test(p.getFileName().toString())).toList();
    }
    for (Path child : children) {
      try (var walk = Files.walk(child)) {
        for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(f);
        }
      }
    }
  }

  /** A restore path as a URI: a {@code scheme:} URI as given, a local path made absolute. */
  static String restoreUri(String restoreFrom) {
    String r = restoreFrom.trim();
    if (r.matches("[a-zA-Z][a-zA-Z0-9+.-]+:.*")) {
      return r;
    }
    return Path.of(r).toAbsolutePath().normalize().toUri().toString();
  }

  /** Writes {@code dir/name} (replacing it). */
  static void write(Path dir, String name, String content) throws IOException {
    Files.writeString(dir.resolve(name), content);
  }

  /** Writes {@code dir/name} through a temporary file and an atomic rename: readers see the old or the new file. */
  static void writeAtomically(Path dir, String name, String content) throws IOException {
    Path target = dir.resolve(name);
    Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
    Files.writeString(tmp, content);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** The lines of {@code dir/name}, none when the file does not exist (a report its job did not write). */
  static List<String> readLines(Path dir, String name) throws IOException {
    Path p = dir.resolve(name);
    return Files.exists(p) ? Files.readAllLines(p) : List.of();
  }
}
