package org.pml4j.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The stream job's output directory, and every file access of the job outside Flink's sinks and checkpoints: the
 * ownership check and clean-up before a run, {@code config.json}, the atomic write of {@code summary.json}, and the
 * reading of the report lines that the summary is built from; and the names of the files and directories in it.
 * A location is a local path or a URI of any of Flink's file systems ({@code file://}, {@code s3://},
 * {@code hdfs://}); every access goes through {@link OutputFileSystem} and {@link OutputLocation}, never
 * {@code java.nio}.
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

  private static final Set<String> REPORTS = Set.of(SUMMARY, EVALUATIONS, MODEL_UPDATES, REJECTED, EMBEDDINGS);
  private static final String MARKER_TEXT = "This directory holds the outputs of pml4j stream. A new run here deletes "
      + "the previous run's outputs (reports, model-v*.onnx, manifest.json, Flink checkpoints and savepoints) and "
      + "nothing else.\n";

  /**
   * Makes {@code location} ready for a run without ever deleting what pml4j did not write:
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
   * @param location a local path or a URI of one of Flink's file systems
   * @param restoreFrom the checkpoint or savepoint the run restores from (path or URI), or null
   * @return the location as a URI ({@link OutputFileSystem#uri})
   */
  public static String prepare(String location, String restoreFrom) throws IOException {
    Map<String, Predicate<String>> ours = Map.of(
        "", REPORTS::contains,
        MODELS, n -> MODEL_FILE.matcher(n).matches() || n.equals("manifest.json"),
        CHECKPOINTS, n -> JOB_ID.matcher(n).matches(),
        SAVEPOINTS, n -> n.startsWith("savepoint-"));
    return OutputLocation.prepare(location, MARKER, MARKER_TEXT, restoreFrom, ours);
  }

  /**
   * Checks, without changing anything, that {@code location} can hold a run: missing, empty, or marked as a pml4j
   * stream output (see {@link #prepare}).
   *
   * @return the location as a URI
   * @throws IllegalArgumentException when it is a file, or a non-empty directory without the marker
   */
  public static String check(String location) throws IOException {
    return OutputLocation.check(location, MARKER);
  }

  /** Writes {@code location/name}, replacing it; readers see the old or the new file. */
  static void writeAtomically(String location, String name, String content) throws IOException {
    OutputFileSystem.writeAtomically(OutputFileSystem.child(location, name), content.getBytes(StandardCharsets.UTF_8));
  }

  /** The lines of {@code location/name}, none when the file does not exist (a report its job did not write). */
  static List<String> readLines(String location, String name) throws IOException {
    return OutputFileSystem.readLines(OutputFileSystem.child(location, name));
  }
}
