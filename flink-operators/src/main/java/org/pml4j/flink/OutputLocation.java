package org.pml4j.flink;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;

/**
 * The safety rules of a run's output directory, through Flink's {@link FileSystem}, so that they hold the same for a
 * local path, a {@code file://} URI and a remote one ({@code s3://bucket/run}, {@code hdfs://...}). A run never
 * deletes what it did not write:
 *
 * <ul>
 *   <li>missing or empty: the marker file is written (on an object store, a "directory" is a key prefix: missing and
 *       empty are the same);
 *   <li>not empty and without the marker: refused with an {@link IllegalArgumentException};
 *   <li>with the marker, restoring from a checkpoint or savepoint inside it: nothing is deleted (the restored run
 *       continues there);
 *   <li>with the marker otherwise: the previous run's outputs are deleted by name, as the caller's rules say (a
 *       predicate on the names directly in the directory, and one for the children of each subdirectory); anything
 *       else stays.
 * </ul>
 *
 * <p>On an object store the check and the deletes are listings and deletes of keys: two runs started at the same
 * moment on one prefix are not kept apart (nor are they on a local disk); give each run its own location.
 */
public final class OutputLocation {
  private OutputLocation() {}

  /**
   * Checks, changing nothing, that {@code location} can hold a run: missing, empty, or holding {@code marker}.
   *
   * @return the location as a URI ({@link OutputFileSystem#uri})
   * @throws IllegalArgumentException when it is a file, or a non-empty directory without {@code marker}; the message
   *     names the location
   */
  public static String check(String location, String marker) throws IOException {
    String uri = OutputFileSystem.uri(location);
    Path dir = new Path(uri);
    FileSystem fs = dir.getFileSystem();
    FileStatus st = status(fs, dir);
    if (st != null && !st.isDir()) {
      throw new IllegalArgumentException("output directory " + uri + " is a file");
    }
    boolean empty = st == null || OutputFileSystem.list(dir).isEmpty();
    if (!empty && !fs.exists(new Path(dir, marker))) {
      throw new IllegalArgumentException("output directory " + uri + " is not empty and is not a pml4j stream output "
          + "(no " + marker + " file): pml4j never deletes or overwrites files it did not write; choose a new or "
          + "empty directory");
    }
    return uri;
  }

  /**
   * Makes {@code location} ready for a run (see the class comment): {@link #check}, then the marker file with
   * {@code markerText}, then the deletes.
   *
   * @param restoreFrom the checkpoint or savepoint the run restores from (a path or URI), or null
   * @param ours which entries are the previous run's outputs: key {@code ""} for the names directly in the
   *     directory, a subdirectory's name for the names of its children (deleted recursively)
   * @return the location as a URI
   */
  public static String prepare(String location, String marker, String markerText, String restoreFrom,
      Map<String, Predicate<String>> ours) throws IOException {
    String uri = check(location, marker);
    Path dir = new Path(uri);
    FileSystem fs = dir.getFileSystem();
    if (!OutputFileSystem.isObjectStore(dir)) {
      fs.mkdirs(dir);
    }
    OutputFileSystem.writeAtomically(new Path(dir, marker), markerText.getBytes(StandardCharsets.UTF_8));
    if (restoreFrom != null && !restoreFrom.isBlank() && isInside(OutputFileSystem.path(restoreFrom), dir)) {
      return uri; // continuing this directory's run
    }
    for (Map.Entry<String, Predicate<String>> e : ours.entrySet()) {
      Path parent = e.getKey().isEmpty() ? dir : new Path(dir, e.getKey());
      for (String name : OutputFileSystem.list(parent)) {
        if (!name.equals(marker) && e.getValue().test(name)) {
          Path child = new Path(parent, name);
          if (!fs.delete(child, true) && fs.exists(child)) {
            throw new IOException("cannot delete " + child);
          }
        }
      }
    }
    return uri;
  }

  /** Whether {@code p} lies under {@code dir} (Flink's paths: {@code file:/x} and {@code file:///x} are one). */
  static boolean isInside(Path p, Path dir) {
    String d = dir.toString();
    String f = p.toString();
    return f.startsWith(d.endsWith("/") ? d : d + "/");
  }

  private static FileStatus status(FileSystem fs, Path p) throws IOException {
    try {
      return fs.getFileStatus(p);
    } catch (FileNotFoundException e) {
      return null;
    }
  }
}
