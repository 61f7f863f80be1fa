package org.pml4j.onnx;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.UUID;

/**
 * Where a {@link ModelPublisher} keeps its files: one flat directory (or object-store prefix) of named files. The
 * publisher needs only these operations, so it can write to a local directory ({@link LocalModelStore}, java.nio) or
 * through another file system API (the Flink module has one over Flink's {@code FileSystem}, for {@code s3://},
 * {@code hdfs://} and every other scheme that Flink's file system plugins provide) without depending on it.
 *
 * <p>Contract of {@link #writeAtomically}: a reader that reads {@code name} sees either its previous content or the
 * complete new content, never a part. A store reaches this with a hidden temporary file renamed into place (names
 * from {@link #temporaryName}, which {@link #isTemporary} recognizes so a publisher can delete the leftovers of a
 * crash), or, where the storage publishes a whole object at once (object stores), by writing the final name directly.
 */
public interface ModelStore {
  /** The suffix of temporary files ({@link #temporaryName}). */
  String TMP_SUFFIX = ".tmp";

  /** The store's directory or URI, for messages. */
  String location();

  /** The location of the file {@code name} (a path or URI), for messages and for readers that open it directly. */
  String location(String name);

  /** Creates the directory when it is missing (a no-op where directories are implicit, as in object stores). */
  void createDirectory() throws IOException;

  /**
   * The content of {@code name}.
   *
   * @throws NoSuchFileException when there is no such file
   */
  byte[] read(String name) throws IOException;

  /** Writes {@code bytes} as {@code name}: readers see the old content or all of the new one, never a part. */
  void writeAtomically(String name, byte[] bytes) throws IOException;

  /** The names of the files directly in the directory (none when it does not exist). */
  List<String> list() throws IOException;

  /** Deletes {@code name}; nothing happens when it does not exist. */
  void delete(String name) throws IOException;

  /**
   * Takes the publisher's lock for one publication; closing the returned handle releases it. A store that can, makes
   * it exclusive between processes ({@link LocalModelStore}: a file lock); one that cannot returns a no-op handle,
   * and then only one publisher may write to the directory (documented by that store).
   */
  Lock lock() throws IOException;

  /** A held lock. */
  interface Lock extends AutoCloseable {
    @Override
    void close() throws IOException;
  }

  /** A fresh hidden temporary name for {@code name}: {@code .<name>.<uuid>.tmp}. */
  static String temporaryName(String name) {
    return "." + name + "." + UUID.randomUUID() + TMP_SUFFIX;
  }

  /** Whether {@code name} is a temporary name made by {@link #temporaryName}. */
  static boolean isTemporary(String name) {
    return name.startsWith(".") && name.endsWith(TMP_SUFFIX);
  }
}
