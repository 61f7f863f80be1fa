package org.pml4j.onnx;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
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
 *   dir/.publisher.lock             cross-process lock of the publishing side (local directories)
 * </pre>
 *
 * <p>The files live in a {@link ModelStore}: a local directory ({@link LocalModelStore}, java.nio; the {@link Path}
 * constructor and readers) or any other store, such as the Flink module's store over Flink's {@code FileSystem}
 * ({@code s3://}, {@code hdfs://}, {@code file://}). Every file is written with {@link ModelStore#writeAtomically}:
 * a final name only ever shows complete content. The model file is written before the manifest that names it, so a
 * manifest never lists a missing or partial file. After the manifest, versions beyond the newest {@code keepLast} are
 * deleted (with any leftover temporary files or unlisted model files of a crashed publisher, on construction).
 *
 * <p>A reader that read an older manifest may find one of its files pruned; {@link #readLatest(ModelStore)} re-reads
 * the manifest and retries, and always checks the sha256.
 *
 * <p>One publisher per directory: {@code publish} is synchronized and holds the store's {@link ModelStore#lock()}
 * (between processes only where the store can lock; see the store).
 */
public final class ModelPublisher {
  public static final String MANIFEST = "manifest.json";
  public static final int FORMAT = 1;
  private static final Pattern MODEL_FILE = Pattern.compile("model-v(\\d+)\\.onnx");
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final ModelStore store;
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

  /**
   * A model read back and checked against its manifest entry.
   *
   * @param location where it was read ({@link ModelStore#location(String)}: a local path or a URI)
   */
  public record PublishedModel(ModelEntry entry, String location, byte[] bytes) {
    /**
     * The local file it was read from.
     *
     * @throws IllegalStateException when it was read from a store that is not local (an {@code s3://} URI, ...)
     */
    public Path path() {
      if (location.startsWith("file:")) {
        return Path.of(URI.create(location));
      }
      if (location.matches("[a-zA-Z][a-zA-Z0-9+.-]+:/.*")) {
        throw new IllegalStateException("model " + location + " is not a local file");
      }
      return Path.of(location);
    }
  }

  /**
   * A publisher into a local directory ({@link LocalModelStore}).
   *
   * @param dir the publication directory (created if missing)
   * @param keepLast how many versions to keep (at least 1)
   * @throws IllegalArgumentException when {@code dir} is null, {@code keepLast < 1}, or the directory cannot be
   *     created, locked or cleaned (the message names the path and the cause, e.g. a permission denied)
   */
  public ModelPublisher(Path dir, int keepLast) {
    this(dir == null ? null : new LocalModelStore(dir), keepLast, "dir");
  }

  /**
   * A publisher into {@code store}.
   *
   * @param store where the files go (its directory is created if missing)
   * @param keepLast how many versions to keep (at least 1)
   * @throws IllegalArgumentException when {@code store} is null, {@code keepLast < 1}, or the directory cannot be
   *     created, locked or cleaned (the message names the location and the cause)
   */
  public ModelPublisher(ModelStore store, int keepLast) {
    this(store, keepLast, "store");
  }

  private ModelPublisher(ModelStore store, int keepLast, String argument) {
    if (store == null) {
      throw new IllegalArgumentException(argument + " must not be null");
    }
    if (keepLast < 1) {
      throw new IllegalArgumentException("keepLast must be >= 1, got " + keepLast);
    }
    this.store = store;
    this.keepLast = keepLast;
    try {
      store.createDirectory();
      try (ModelStore.Lock l = store.lock()) {
        cleanUp(readManifestOrEmpty(store));
      }
    } catch (IOException | SecurityException e) {
      throw new IllegalArgumentException("cannot use " + store.location() + " as the publication directory: "
          + describe(e), e);
    }
  }

  /** Where the files go. */
  public ModelStore store() {
    return store;
  }

  /**
   * The local directory.
   *
   * @throws IllegalStateException when the store is not a {@link LocalModelStore}
   */
  public Path directory() {
    if (store instanceof LocalModelStore l) {
      return l.directory();
    }
    throw new IllegalStateException("the publication directory " + store.location() + " is not a local directory");
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
    try (ModelStore.Lock l = store.lock()) {
      Manifest old = readManifestOrEmpty(store);
      if (!old.models().isEmpty() && version <= old.latest()) {
        throw new IllegalArgumentException("version " + version + " is not newer than the published version "
            + old.latest());
      }
      String file = fileName(version);
      store.writeAtomically(file, model);
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
      store.writeAtomically(MANIFEST, JSON.writeValueAsBytes(manifest));
      cleanUp(manifest);
      return entry;
    } catch (IOException | SecurityException e) {
      throw new IllegalStateException("publishing version " + version + " into " + store.location() + " failed: "
          + describe(e), e);
    }
  }

  /** The file name of a version: {@code model-v0000000042.onnx}. */
  public static String fileName(long version) {
    return String.format("model-v%010d.onnx", version);
  }

  /** Reads the manifest of the local directory {@code dir}; an empty manifest when none is published yet. */
  public static Manifest readManifest(Path dir) {
    return readManifest(new LocalModelStore(dir));
  }

  /** Reads the manifest of {@code store}; an empty manifest when none is published yet. */
  public static Manifest readManifest(ModelStore store) {
    try {
      return readManifestOrEmpty(store);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@link #readLatest(ModelStore)} of the local directory {@code dir}. */
  public static PublishedModel readLatest(Path dir) {
    return readLatest(new LocalModelStore(dir));
  }

  /**
   * Reads the newest published model and checks its sha256, retrying when a concurrent publication pruned the file
   * between reading the manifest and the file.
   *
   * @return the model, or null when nothing is published
   * @throws IllegalStateException when the content does not match the manifest's sha256 or size
   */
  public static PublishedModel readLatest(ModelStore store) {
    NoSuchFileException last = null;
    for (int attempt = 0; attempt < 10; attempt++) {
      Manifest m = readManifest(store);
      ModelEntry e = m.newest();
      if (e == null) {
        return null;
      }
      try {
        return read(store, e);
      } catch (NoSuchFileException ex) {
        last = ex;
      } catch (IOException ex) {
        throw new UncheckedIOException(ex);
      }
    }
    throw new UncheckedIOException("the newest model kept disappearing while reading " + store.location(), last);
  }

  /** {@link #read(ModelStore, ModelEntry)} from the local directory {@code dir}. */
  public static PublishedModel read(Path dir, ModelEntry e) throws IOException {
    return read(new LocalModelStore(dir), e);
  }

  /**
   * Reads a manifest entry's file and checks its size and sha256.
   *
   * @throws NoSuchFileException when the file is gone (pruned by a newer publication)
   * @throws IllegalStateException when the content does not match the entry
   */
  public static PublishedModel read(ModelStore store, ModelEntry e) throws IOException {
    byte[] bytes = store.read(e.file());
    String where = store.location(e.file());
    if (bytes.length != e.sizeBytes() || !sha256(bytes).equals(e.sha256())) {
      throw new IllegalStateException("model file " + where + " does not match its manifest entry (size "
          + bytes.length + " vs " + e.sizeBytes() + ", sha256 " + sha256(bytes) + " vs " + e.sha256() + ")");
    }
    return new PublishedModel(e, where, bytes);
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

  private static Manifest readManifestOrEmpty(ModelStore store) throws IOException {
    byte[] bytes;
    try {
      bytes = store.read(MANIFEST);
    } catch (NoSuchFileException e) {
      return new Manifest(FORMAT, -1, null, List.of());
    }
    String p = store.location(MANIFEST);
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

  /** Deletes model files not in the manifest, and temporary files (we hold the lock: no publication is running). */
  private void cleanUp(Manifest manifest) throws IOException {
    Set<String> listed = new HashSet<>();
    for (ModelEntry e : manifest.models()) {
      listed.add(e.file());
    }
    for (String n : store.list()) {
      boolean staleModel = MODEL_FILE.matcher(n).matches() && !listed.contains(n);
      if (staleModel || ModelStore.isTemporary(n)) {
        store.delete(n);
      }
    }
  }
}
