package org.pml4j.onnx;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.pml4j.nn.Sequential;

/**
 * Publishes versioned model files into a directory, with a JSON manifest beside them, so that readers (embedding
 * services, other processes) never see a half-written file.
 *
 * <pre>
 *   dir/model-v0000000042.onnx      one file per kept version
 *   dir/manifest.json               {"format": 1, "latest": 42, "updated": "...", "models": [newest first:
 *                                     {"version", "training_step", "file", "sha256", "size_bytes", "created"}]}
 *   dir/.publisher.lock             cross-process lock of the publishing side
 * </pre>
 *
 * <p>Every file is written to a hidden temporary file in the same directory, {@code fsync}ed, atomically renamed to
 * its final name, and the directory is {@code fsync}ed: a final name only ever points to complete content. The model
 * file is renamed into place before the manifest that names it, so a manifest never lists a missing or partial file.
 * After the manifest, versions beyond the newest {@code keepLast} are deleted (with any leftover temporary files or
 * unlisted model files of a crashed publisher, on construction).
 *
 * <p>A reader that read an older manifest may find one of its files pruned; {@link #readLatest(Path)} re-reads the
 * manifest and retries, and always checks the sha256.
 *
 * <p>One publisher per directory: {@code publish} is synchronized and holds a file lock on {@code .publisher.lock}.
 */
public final class ModelPublisher {
  public static final String MANIFEST = "manifest.json";
  public static final int FORMAT = 1;
  private static final String LOCK = ".publisher.lock";
  private static final String TMP_SUFFIX = ".tmp";
  private static final Pattern MODEL_FILE = Pattern.compile("model-v(\\d+)\\.onnx");
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final Path dir;
  private final int keepLast;

  /** One published version, as listed in the manifest. */
  public record ModelEntry(long version, @JsonProperty("training_step") long trainingStep, String file,
      String sha256, @JsonProperty("size_bytes") long sizeBytes, String created) {}

  /** The manifest: the kept versions, newest first. */
  public record Manifest(int format, long latest, String updated, List<ModelEntry> models) {
    public Manifest {
      models = models == null ? List.of() : List.copyOf(models);
    }

    /** The newest entry, or null when nothing is published. */
    public ModelEntry newest() {
      return models.isEmpty() ? null : models.get(0);
    }
  }

  /** A model read back and checked against its manifest entry. */
  public record PublishedModel(ModelEntry entry, Path path, byte[] bytes) {}

  /**
   * @param dir the publication directory (created if missing)
   * @param keepLast how many versions to keep (at least 1)
   * @throws IllegalArgumentException when {@code dir} is null, {@code keepLast < 1}, or the directory cannot be
   *     created, locked or cleaned (the message names the path and the cause, e.g. a permission denied)
   */
  public ModelPublisher(Path dir, int keepLast) {
    if (dir == null) {
      throw new IllegalArgumentException("dir must not be null");
    }
    if (keepLast < 1) {
      throw new IllegalArgumentException("keepLast must be >= 1, got " + keepLast);
    }
    this.dir = dir.toAbsolutePath();
    this.keepLast = keepLast;
    try {
      Files.createDirectories(this.dir);
      try (FileChannel lockFile = openLock(); FileLock l = lockFile.lock()) {
        cleanUp(readManifestOrEmpty(this.dir));
      }
    } catch (IOException | SecurityException e) {
      throw new IllegalArgumentException("cannot use " + this.dir + " as the publication directory: "
          + describe(e), e);
    }
  }

  public Path directory() {
    return dir;
  }

  public int keepLast() {
    return keepLast;
  }

  /** Exports {@code encoder} ({@link OnnxExporter}, verified) and publishes it. */
  public ModelEntry publish(Sequential encoder, long version, long trainingStep) {
    if (encoder == null) {
      throw new IllegalArgumentException("encoder must not be null");
    }
    return publish(version, trainingStep, OnnxExporter.export(encoder, version, trainingStep));
  }

  /**
   * Publishes a model file.
   *
   * @param version a version greater than every published one
   * @param trainingStep the training step the model comes from (recorded in the manifest)
   * @param model the file content (an ONNX model)
   * @return the manifest entry
   * @throws IllegalArgumentException when {@code model} is null, or {@code version} is negative or not newer than
   *     the latest published version
   * @throws IllegalStateException when the directory cannot be written (any more): the message names the path and
   *     the cause; nothing half-written is left under a final name
   */
  public synchronized ModelEntry publish(long version, long trainingStep, byte[] model) {
    if (model == null) {
      throw new IllegalArgumentException("model must not be null");
    }
    if (version < 0) {
      throw new IllegalArgumentException("version must be >= 0, got " + version);
    }
    try (FileChannel lockFile = openLock(); FileLock l = lockFile.lock()) {
      Manifest old = readManifestOrEmpty(dir);
      if (!old.models().isEmpty() && version <= old.latest()) {
        throw new IllegalArgumentException("version " + version + " is not newer than the published version "
            + old.latest());
      }
      String file = fileName(version);
      writeAtomically(dir.resolve(file), model);
      ModelEntry entry = new ModelEntry(version, trainingStep, file, sha256(model), model.length,
          Instant.now().toString());
      List<ModelEntry> kept = new ArrayList<>();
      kept.add(entry);
      for (ModelEntry e : old.models()) {
        if (kept.size() < keepLast) {
          kept.add(e);
        }
      }
      Manifest manifest = new Manifest(FORMAT, version, Instant.now().toString(), kept);
      writeAtomically(dir.resolve(MANIFEST), JSON.writeValueAsBytes(manifest));
      cleanUp(manifest);
      return entry;
    } catch (IOException | SecurityException e) {
      throw new IllegalStateException("publishing version " + version + " into " + dir + " failed: " + describe(e), e);
    }
  }

  /** The file name of a version: {@code model-v0000000042.onnx}. */
  public static String fileName(long version) {
    return String.format("model-v%010d.onnx", version);
  }

  /** Reads the manifest of {@code dir}; an empty manifest when none is published yet. */
  public static Manifest readManifest(Path dir) {
    try {
      return readManifestOrEmpty(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Reads the newest published model and checks its sha256, retrying when a concurrent publication pruned the file
   * between reading the manifest and the file.
   *
   * @return the model, or null when nothing is published
   * @throws IllegalStateException when the content does not match the manifest's sha256 or size
   */
  public static PublishedModel readLatest(Path dir) {
    NoSuchFileException last = null;
    for (int attempt = 0; attempt < 10; attempt++) {
      Manifest m = readManifest(dir);
      ModelEntry e = m.newest();
      if (e == null) {
        return null;
      }
      try {
        return read(dir, e);
      } catch (NoSuchFileException ex) {
        last = ex;
      } catch (IOException ex) {
        throw new UncheckedIOException(ex);
      }
    }
    throw new UncheckedIOException("the newest model kept disappearing while reading " + dir, last);
  }

  /** Reads a manifest entry's file and checks its size and sha256. */
  public static PublishedModel read(Path dir, ModelEntry e) throws IOException {
    Path p = dir.resolve(e.file());
    byte[] bytes = Files.readAllBytes(p);
    if (bytes.length != e.sizeBytes() || !sha256(bytes).equals(e.sha256())) {
      throw new IllegalStateException("model file " + p + " does not match its manifest entry (size " + bytes.length
          + " vs " + e.sizeBytes() + ", sha256 " + sha256(bytes) + " vs " + e.sha256() + ")");
    }
    return new PublishedModel(e, p, bytes);
  }

  /** Lower-case hex sha256 of {@code bytes}. */
  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---------------------------------------------------------------- internals

  /** The cause in words: the exception type (e.g. AccessDeniedException) and the file it names. */
  private static String describe(Exception e) {
    String m = e.getMessage();
    if (e instanceof java.nio.file.FileSystemException f) {
      m = f.getFile() + (f.getReason() != null ? ": " + f.getReason() : "");
    }
    return e.getClass().getSimpleName() + (m == null ? "" : " (" + m + ")");
  }

  private FileChannel openLock() throws IOException {
    return FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
  }

  private static Manifest readManifestOrEmpty(Path dir) throws IOException {
    Path p = dir.resolve(MANIFEST);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(p);
    } catch (NoSuchFileException e) {
      return new Manifest(FORMAT, -1, null, List.of());
    }
    try {
      Manifest m = JSON.readValue(bytes, Manifest.class);
      if (m.format() != FORMAT) {
        throw new IllegalStateException("manifest " + p + " has format " + m.format() + ", expected " + FORMAT);
      }
      return m;
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("manifest " + p + " is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** Writes {@code bytes} to a temporary file, fsyncs it, renames it atomically to {@code target}, fsyncs the dir. */
  private void writeAtomically(Path target, byte[] bytes) throws IOException {
    Path tmp = dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + TMP_SUFFIX);
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the file system of " + dir + " cannot rename atomically", e);
      }
      syncDirectory();
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private void syncDirectory() {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // Some platforms cannot open or sync a directory; the renames are still atomic there.
    }
  }

  /** Deletes model files not in the manifest, and temporary files (we hold the lock: no publication is running). */
  private void cleanUp(Manifest manifest) throws IOException {
    Set<String> listed = new HashSet<>();
    for (ModelEntry e : manifest.models()) {
      listed.add(e.file());
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path p : files) {
        String n = p.getFileName().toString();
        Matcher m = MODEL_FILE.matcher(n);
        boolean staleModel = m.matches() && !listed.contains(n);
        boolean staleTmp = n.startsWith(".") && n.endsWith(TMP_SUFFIX);
        if (staleModel || staleTmp) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
