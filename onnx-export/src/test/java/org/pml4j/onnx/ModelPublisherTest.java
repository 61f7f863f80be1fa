package org.pml4j.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.nn.Sequential;
import org.pml4j.onnx.ModelPublisher.Manifest;
import org.pml4j.onnx.ModelPublisher.ModelEntry;
import org.pml4j.onnx.ModelPublisher.PublishedModel;
import org.pml4j.spec.Registry;

class ModelPublisherTest {
  private static final Pattern MODEL = Pattern.compile("model-v(\\d+)\\.onnx");

  /** Deterministic content of a version: 0.5-2.5 MB, so a partial write would be visible. */
  static byte[] payload(long version) {
    Random r = new Random(version * 7919 + 1);
    byte[] b = new byte[500_000 + r.nextInt(2_000_000)];
    r.nextBytes(b);
    return b;
  }

  static String sha(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  @Test
  void manifestListsFilesWithCorrectSha256(@TempDir Path dir) throws Exception {
    ModelPublisher pub = new ModelPublisher(dir, 5);
    assertNull(ModelPublisher.readLatest(dir));
    assertTrue(ModelPublisher.readManifest(dir).models().isEmpty());
    for (long v = 1; v <= 3; v++) {
      ModelEntry e = pub.publish(v, v * 100, payload(v));
      assertEquals(ModelPublisher.fileName(v), e.file());
    }
    Manifest m = ModelPublisher.readManifest(dir);
    assertEquals(3, m.latest());
    assertEquals(List.of(3L, 2L, 1L), m.models().stream().map(ModelEntry::version).toList());
    for (ModelEntry e : m.models()) {
      byte[] onDisk = Files.readAllBytes(dir.resolve(e.file()));
      assertArrayEquals(payload(e.version()), onDisk);
      assertEquals(sha(onDisk), e.sha256(), "sha256 of " + e.file());
      assertEquals(onDisk.length, e.sizeBytes());
      assertEquals(e.version() * 100, e.trainingStep());
    }
    // The manifest is plain JSON with the documented field names.
    JsonNode json = new ObjectMapper().readTree(dir.resolve(ModelPublisher.MANIFEST).toFile());
    assertEquals(1, json.get("format").asInt());
    assertEquals(3, json.get("latest").asLong());
    JsonNode first = json.get("models").get(0);
    for (String f : List.of("version", "training_step", "file", "sha256", "size_bytes", "created")) {
      assertTrue(first.has(f), f + " in " + first);
    }
    PublishedModel latest = ModelPublisher.readLatest(dir);
    assertEquals(3, latest.entry().version());
    assertArrayEquals(payload(3), latest.bytes());

    // A corrupted file is detected by the sha256 check.
    Files.write(dir.resolve(ModelPublisher.fileName(3)), new byte[] {1, 2, 3});
    assertThrows(IllegalStateException.class, () -> ModelPublisher.readLatest(dir));
  }

  @Test
  void versionsMustIncrease(@TempDir Path dir) {
    ModelPublisher pub = new ModelPublisher(dir, 2);
    pub.publish(5, 1, new byte[] {1});
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pub.publish(5, 2, new byte[] {2}));
    assertTrue(e.getMessage().contains("not newer"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> pub.publish(4, 2, new byte[] {2}));
    assertThrows(IllegalArgumentException.class, () -> new ModelPublisher(dir, 0));
  }

  @Test
  void keepsTheLastNVersions(@TempDir Path dir) throws Exception {
    ModelPublisher pub = new ModelPublisher(dir, 3);
    for (long v = 1; v <= 10; v++) {
      pub.publish(v * 10, v, payload(v));
      Manifest m = ModelPublisher.readManifest(dir);
      assertEquals(Math.min(v, 3), m.models().size());
      assertEquals(m.models().size(), modelFiles(dir).size(), "files on disk = manifest entries");
    }
    assertEquals(List.of(ModelPublisher.fileName(100), ModelPublisher.fileName(90), ModelPublisher.fileName(80)),
        ModelPublisher.readManifest(dir).models().stream().map(ModelEntry::file).toList());
    assertEquals(List.of(ModelPublisher.fileName(80), ModelPublisher.fileName(90), ModelPublisher.fileName(100)),
        modelFiles(dir));
    assertFalse(Files.exists(dir.resolve(ModelPublisher.fileName(70))));
    // A new publisher with a smaller N, and a crashed publisher's leftovers, are cleaned on the next publication.
    Files.write(dir.resolve(".model-v0000000110.onnx.deadbeef.tmp"), new byte[] {9});
    Files.write(dir.resolve(ModelPublisher.fileName(105)), new byte[] {9}); // renamed, manifest never written
    ModelPublisher smaller = new ModelPublisher(dir, 1);
    assertFalse(Files.exists(dir.resolve(".model-v0000000110.onnx.deadbeef.tmp")));
    assertFalse(Files.exists(dir.resolve(ModelPublisher.fileName(105))));
    smaller.publish(110, 11, payload(11));
    assertEquals(List.of(ModelPublisher.fileName(110)), modelFiles(dir));
  }

  /**
   * A reader running beside the publisher never sees a partial file: every model file it can open (listed in the
   * manifest or just present in the directory) has exactly the published content, and the manifest always parses.
   */
  @Test
  void concurrentReaderNeverSeesAPartialFile(@TempDir Path dir) throws Exception {
    ModelPublisher pub = new ModelPublisher(dir, 2);
    int versions = 40;
    AtomicBoolean done = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger filesChecked = new AtomicInteger();
    AtomicInteger manifestsRead = new AtomicInteger();
    Thread reader = new Thread(() -> {
      try {
        while (!done.get()) {
          Manifest m = ModelPublisher.readManifest(dir);
          manifestsRead.incrementAndGet();
          for (ModelEntry e : m.models()) {
            try {
              PublishedModel pm = ModelPublisher.read(dir, e); // checks size and sha256
              assertArrayEquals(payload(e.version()), pm.bytes());
              filesChecked.incrementAndGet();
            } catch (NoSuchFileException pruned) {
              // pruned after we read the manifest: allowed, readers re-read the manifest
            }
          }
          for (String name : modelFiles(dir)) {
            Matcher mm = MODEL.matcher(name);
            assertTrue(mm.matches());
            byte[] b;
            try {
              b = Files.readAllBytes(dir.resolve(name));
            } catch (NoSuchFileException pruned) {
              continue;
            }
            assertArrayEquals(payload(Long.parseLong(mm.group(1))), b, "complete content of " + name);
            filesChecked.incrementAndGet();
          }
        }
      } catch (Throwable t) {
        failure.set(t);
      }
    }, "reader");
    reader.start();
    for (long v = 1; v <= versions && failure.get() == null; v++) {
      pub.publish(v, v, payload(v));
    }
    done.set(true);
    reader.join();
    if (failure.get() != null) {
      throw new AssertionError("reader saw a broken state", failure.get());
    }
    assertTrue(filesChecked.get() > 0 && manifestsRead.get() > 0);
    System.out.println("publisher atomicity: " + manifestsRead.get() + " manifests, " + filesChecked.get()
        + " files checked while " + versions + " versions were published");
    assertEquals(versions, ModelPublisher.readLatest(dir).entry().version());
  }

  @Test
  void publishesAnEncoderThatLoadsInOrt(@TempDir Path dir) {
    Sequential enc = Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Linear", "params": {"in_features": 5, "out_features": 8}}, {"class": "ReLU"},
          {"class": "Linear", "params": {"in_features": 8, "out_features": 3}}, {"class": "L2Normalize"}]}}""",
        Sequential.class);
    ModelPublisher pub = new ModelPublisher(dir, 3);
    pub.publish(enc, 7, 700);
    PublishedModel m = ModelPublisher.readLatest(dir);
    assertNotNull(m);
    try (OnnxEncoder ort = OnnxEncoder.load(m.path())) {
      assertEquals(7, ort.modelVersion());
      assertEquals(700, ort.trainingStep());
      assertEquals(3, ort.embed(new float[5]).length);
    }
  }

  static List<String> modelFiles(Path dir) throws IOException {
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
      for (Path p : s) {
        if (MODEL.matcher(p.getFileName().toString()).matches()) {
          out.add(p.getFileName().toString());
        }
      }
    }
    out.sort(null);
    return out;
  }
}
