package org.pml4j.flink;

import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.FileSystem.WriteMode;
import org.apache.flink.core.fs.Path;
import org.apache.flink.core.fs.local.LocalFileSystem;
import org.pml4j.onnx.ModelStore;

/**
 * The job's outputs through Flink's {@link FileSystem}: a location is a local path ({@code pml4j-out/run}, made
 * absolute) or a URI of any scheme that Flink's file systems provide ({@code file:///...}, {@code s3://bucket/run},
 * {@code hdfs://namenode/run}, ...; {@code s3} and others come from the plugins in a Flink distribution's
 * {@code plugins/} directory, see the README). Nothing here converts a URI to a {@code java.nio} path.
 *
 * <p><b>Complete files only.</b> {@link #writeAtomically} publishes a file so that a reader sees the old content or
 * all of the new one:
 *
 * <ul>
 *   <li>on file systems ({@code file}, {@code hdfs}, ...) it writes a hidden temporary file in the same directory
 *       ({@link ModelStore#temporaryName}),
 *       syncs it and renames it over the final name. Flink's local file system renames with a replacing
 *       {@code rename(2)}, which is atomic; a file system whose rename does not replace (HDFS) gets delete + rename,
 *       and a reader can then find no file for that moment (never a partial one);
 *   <li>on object stores (schemes s3, s3a, s3n, s3p, gs, oss, obs, cosn, wasb, wasbs) there is no atomic rename (a
 *       rename is copy + delete), but an object becomes visible only when its upload completes, on close: the final
 *       name is written directly. Flink's {@code RecoverableWriter} would give the same guarantee but is not offered by
 *       every plugin ({@code flink-s3-fs-presto} has none), and it adds nothing for whole small files written at once.
 * </ul>
 */
public final class OutputFileSystem {
  private static final Set<String> OBJECT_STORE_SCHEMES =
      Set.of("s3", "s3a", "s3n", "s3p", "gs", "oss", "obs", "cosn", "wasb", "wasbs");

  private OutputFileSystem() {}

  /** Whether {@code location} starts with a URI scheme ({@code file:}, {@code s3:}, ...; not a drive letter). */
  public static boolean hasScheme(String location) {
    return location.matches("[a-zA-Z][a-zA-Z0-9+.-]+:.*");
  }

  /** Whether {@code location} is on the local file system: a path without scheme, or a {@code file:} URI. */
  public static boolean isLocal(String location) {
    checkLocation(location);
    return !hasScheme(location) || location.regionMatches(true, 0, "file:", 0, 5);
  }

  /**
   * {@code location} as a URI string: a URI is kept as given (a trailing {@code /} removed), a local path becomes the
   * {@code file:} URI of its absolute, normalized form.
   *
   * @throws IllegalArgumentException when {@code location} is null or blank
   */
  public static String uri(String location) {
    checkLocation(location);
    String l = location.trim();
    if (hasScheme(l)) {
      while (l.endsWith("/") && !l.endsWith(":/") && !l.endsWith("://")) {
        l = l.substring(0, l.length() - 1);
      }
      return l;
    }
    return java.nio.file.Path.of(l).toAbsolutePath().normalize().toUri().toString().replaceAll("/$", "");
  }

  /** The URI of {@code name} inside the directory {@code location} (see {@link #uri}); the scheme is kept. */
  public static String child(String location, String name) {
    return uri(location) + "/" + name;
  }

  /** {@code location} (see {@link #uri}) as a Flink path. */
  public static Path path(String location) {
    return new Path(URI.create(uri(location)));
  }

  /** Whether {@code p} is in an object store (no atomic rename; an object appears whole when its upload ends). */
  public static boolean isObjectStore(Path p) {
    String scheme = p.toUri().getScheme();
    return scheme != null && OBJECT_STORE_SCHEMES.contains(scheme.toLowerCase(Locale.ROOT));
  }

  /**
   * Writes {@code bytes} to {@code target} so that readers see the old content or all of the new one (see the class
   * comment). Parent directories are created where the file system has them.
   */
  public static void writeAtomically(Path target, byte[] bytes) throws IOException {
    FileSystem fs = target.getFileSystem();
    if (isObjectStore(target)) {
      try (FSDataOutputStream out = fs.create(target, WriteMode.OVERWRITE)) {
        out.write(bytes);
      }
      return;
    }
    Path parent = target.getParent();
    if (parent != null) {
      fs.mkdirs(parent);
    }
    Path tmp = new Path(parent, ModelStore.temporaryName(target.getName()));
    try {
      try (FSDataOutputStream out = fs.create(tmp, WriteMode.NO_OVERWRITE)) {
        out.write(bytes);
        out.flush();
        out.sync();
      }
      renameReplacing(fs, tmp, target);
    } finally {
      if (fs.exists(tmp)) {
        fs.delete(tmp, false);
      }
    }
  }

  /** {@link #writeAtomically(Path, byte[])} of a location (see {@link #uri}). */
  public static void writeAtomically(String location, byte[] bytes) throws IOException {
    writeAtomically(path(location), bytes);
  }

  /**
   * Renames {@code src} to {@code dst}, replacing {@code dst}: one rename where the file system replaces (Flink's
   * local file system), delete + rename where it refuses (HDFS). The local directory is synced afterwards.
   *
   * @throws IOException when the rename fails (the message names both paths)
   */
  static void renameReplacing(FileSystem fs, Path src, Path dst) throws IOException {
    boolean done = fs.rename(src, dst);
    if (!done && fs.exists(dst)) {
      fs.delete(dst, false);
      done = fs.rename(src, dst);
    }
    if (!done) {
      throw new IOException("cannot rename " + src + " to " + dst);
    }
    if (fs instanceof LocalFileSystem local && dst.getParent() != null) {
      try (FileChannel d = FileChannel.open(local.pathToFile(dst.getParent()).toPath(), StandardOpenOption.READ)) {
        d.force(true);
      } catch (IOException e) {
        // some platforms cannot sync a directory; the rename is atomic there all the same
      }
    }
  }

  /**
   * The content of {@code p}.
   *
   * @throws NoSuchFileException when it does not exist
   */
  public static byte[] read(Path p) throws IOException {
    FileSystem fs = p.getFileSystem();
    try (InputStream in = fs.open(p)) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      in.transferTo(b);
      return b.toByteArray();
    } catch (FileNotFoundException e) {
      NoSuchFileException n = new NoSuchFileException(p.toString());
      n.initCause(e);
      throw n;
    }
  }

  /** The lines of the text file {@code location} (UTF-8, without line ends); none when it does not exist. */
  public static List<String> readLines(String location) throws IOException {
    String text;
    try {
      text = new String(read(path(location)), StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
    return text.isEmpty() ? List.of() : List.of(text.split("\r?\n")); // no trailing empty line
  }

  /** Whether {@code location} exists. */
  public static boolean exists(String location) throws IOException {
    Path p = path(location);
    return p.getFileSystem().exists(p);
  }

  /** The names of the entries directly in the directory {@code dir}; none when it does not exist. */
  public static List<String> list(Path dir) throws IOException {
    FileSystem fs = dir.getFileSystem();
    FileStatus[] st;
    try {
      st = fs.listStatus(dir);
    } catch (FileNotFoundException e) {
      return List.of();
    }
    List<String> names = new ArrayList<>();
    if (st != null) {
      for (FileStatus s : st) {
        names.add(s.getPath().getName());
      }
    }
    return names;
  }

  private static void checkLocation(String location) {
    if (location == null || location.isBlank()) {
      throw new IllegalArgumentException("output location must not be null or blank");
    }
  }
}
