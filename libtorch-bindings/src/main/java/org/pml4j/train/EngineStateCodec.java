package org.pml4j.train;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes and reads {@link EngineState} as bytes, with an explicit format version, without Flink: the logic behind the
 * Flink operator's {@code SimpleVersionedSerializer} ({@code org.pml4j.flink.EngineStateSerializer}), which stores
 * {@link #VERSION} beside the bytes and hands it back to {@link #deserialize(int, byte[])}.
 *
 * <p><b>Versions.</b>
 *
 * <ul>
 *   <li><b>1</b>: the format of the trainer operator up to this class (magic {@code "PML4JTR2"}, then fixed fields in
 *       a fixed order: next version, last published step, initial-done flag, samples, train nanos, train CPU nanos,
 *       last loss, loss sum, loss steps, queue fill, the trainer snapshot, the partial batch). Written without a
 *       version prefix into the operator's list state; read, never written.
 *   <li><b>2</b> (current): named fields, {@code int count · count × {UTF name · int length · bytes}}, in any order.
 *       Field names and bodies are listed in {@link #serialize}.
 * </ul>
 *
 * <p><b>Policy for changes</b> (a savepoint outlives the code that wrote it):
 *
 * <ol>
 *   <li>Never change how an existing version is read: {@link #deserialize(int, byte[])} keeps reading every version
 *       it ever wrote.
 *   <li>A new piece of state that has an obvious value for older states (a new counter: 0) is a new named field of
 *       version 2: write it, and read it with that default when it is absent. No version bump. A reader ignores
 *       fields it does not know (a state written by newer code of the same version loses them).
 *   <li>Changing the encoding or meaning of an existing field, or removing a field that must not be ignored, is a
 *       new version: bump {@link #VERSION}, write only the new one, keep reading the old ones by converting them to
 *       the current {@link EngineState}.
 *   <li>Every retired version keeps a committed state written by the code that wrote it (the test resources
 *       {@code state/trainer-state-v1.bin} and {@code state/trainer-operator-v1.snapshot} of pml4j-flink) and a test
 *       that restores it and continues training identically to a run that never stopped.
 *   <li>The trainer snapshot inside (field {@code trainer}, magic {@code "PML4JCK1"}) evolves the same way through its
 *       named sections (see {@link BaseTrainer}).
 * </ol>
 */
public final class EngineStateCodec {
  /** The version {@link #serialize} writes. */
  public static final int VERSION = 2;
  /** The first bytes of a version-1 state. */
  static final byte[] V1_MAGIC = {'P', 'M', 'L', '4', 'J', 'T', 'R', '2'};

  private EngineStateCodec() {}

  /** Whether {@code bytes} is a version-1 state (which carries its magic instead of a version number). */
  public static boolean isVersion1(byte[] bytes) {
    return bytes != null && bytes.length >= V1_MAGIC.length
        && Arrays.equals(Arrays.copyOf(bytes, V1_MAGIC.length), V1_MAGIC);
  }

  /**
   * The state in format {@link #VERSION}: fields {@code trainer} (the snapshot bytes), {@code batch} ({@code int n ·
   * n × {long id · long label · int width · width floats}}), {@code next_version}, {@code last_published_step},
   * {@code samples}, {@code train_nanos}, {@code train_cpu_nanos}, {@code loss_steps}, {@code queue_fill} (longs),
   * {@code skipped_nonfinite}, {@code nonfinite_records} (longs, 0 when absent), {@code initial_done} (boolean),
   * {@code last_loss}, {@code loss_sum} (doubles); big-endian.
   */
  public static byte[] serialize(EngineState s) {
    Map<String, byte[]> f = new LinkedHashMap<>();
    f.put("trainer", s.trainer());
    f.put("batch", batchBytes(s.batch()));
    f.put("next_version", longBytes(s.nextVersion()));
    f.put("last_published_step", longBytes(s.lastPublishedStep()));
    f.put("initial_done", new byte[] {(byte) (s.initialDone() ? 1 : 0)});
    f.put("samples", longBytes(s.samples()));
    f.put("train_nanos", longBytes(s.trainNanos()));
    f.put("train_cpu_nanos", longBytes(s.trainCpuNanos()));
    f.put("last_loss", longBytes(Double.doubleToRawLongBits(s.lastLoss())));
    f.put("loss_sum", longBytes(Double.doubleToRawLongBits(s.lossSum())));
    f.put("loss_steps", longBytes(s.lossSteps()));
    f.put("queue_fill", longBytes(s.queueFill()));
    f.put("skipped_nonfinite", longBytes(s.skippedNonfinite()));
    f.put("nonfinite_records", longBytes(s.nonfiniteRecords()));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(f.size());
      for (Map.Entry<String, byte[]> e : f.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeInt(e.getValue().length);
        out.write(e.getValue());
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bytes.toByteArray();
  }

  /**
   * Reads a state of the given format version.
   *
   * @throws IllegalArgumentException for an unknown version or bytes that are not a state of that version
   */
  public static EngineState deserialize(int version, byte[] bytes) {
    if (bytes == null) {
      throw new IllegalArgumentException("engine state bytes are required");
    }
    try {
      return switch (version) {
        case 1 -> readV1(bytes);
        case 2 -> readV2(bytes);
        default -> throw new IllegalArgumentException("engine state version " + version + " is unknown; this code "
            + "reads versions 1 to " + VERSION + " (a state written by newer code?)");
      };
    } catch (IOException | RuntimeException e) {
      if (e instanceof IllegalArgumentException iae) {
        throw iae;
      }
      throw new IllegalArgumentException("truncated or corrupt engine state of version " + version + ": " + e, e);
    }
  }

  private static EngineState readV1(byte[] blob) throws IOException {
    if (!isVersion1(blob)) {
      throw new IllegalArgumentException("not an engine state of version 1 (expected magic "
          + new String(V1_MAGIC, StandardCharsets.US_ASCII) + ")");
    }
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(blob))) {
      in.skipNBytes(V1_MAGIC.length);
      long nextVersion = in.readLong();
      long lastPublishedStep = in.readLong();
      boolean initialDone = in.readBoolean();
      long samples = in.readLong();
      long trainNanos = in.readLong();
      long trainCpuNanos = in.readLong();
      double lastLoss = in.readDouble();
      double lossSum = in.readDouble();
      long lossSteps = in.readLong();
      long queueFill = in.readLong();
      byte[] snap = new byte[length(in.readInt(), in, "trainer snapshot")];
      in.readFully(snap);
      List<TrainingEngine.TrainingRecord> batch = readBatch(in);
      requireEnd(in);
      return new EngineState(snap, batch, nextVersion, lastPublishedStep, initialDone, samples, trainNanos,
          trainCpuNanos, lastLoss, lossSum, lossSteps, queueFill, 0, 0);
    }
  }

  private static EngineState readV2(byte[] bytes) throws IOException {
    Map<String, byte[]> f = new LinkedHashMap<>();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
      int n = in.readInt();
      if (n < 0) {
        throw new IllegalArgumentException("engine state has a negative field count " + n);
      }
      for (int i = 0; i < n; i++) {
        String name = in.readUTF();
        byte[] body = new byte[length(in.readInt(), in, "field " + name)];
        in.readFully(body);
        f.put(name, body);
      }
      requireEnd(in);
    }
    for (String required : List.of("trainer", "batch", "next_version", "last_published_step", "initial_done")) {
      if (!f.containsKey(required)) {
        throw new IllegalArgumentException("engine state lacks its '" + required + "' field");
      }
    }
    List<TrainingEngine.TrainingRecord> batch;
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(f.get("batch")))) {
      batch = readBatch(in);
      requireEnd(in);
    }
    return new EngineState(f.get("trainer"), batch, longField(f, "next_version", 0),
        longField(f, "last_published_step", -1), f.get("initial_done").length == 1 && f.get("initial_done")[0] != 0,
        longField(f, "samples", 0), longField(f, "train_nanos", 0), longField(f, "train_cpu_nanos", 0),
        Double.longBitsToDouble(longField(f, "last_loss", Double.doubleToRawLongBits(0.0))),
        Double.longBitsToDouble(longField(f, "loss_sum", Double.doubleToRawLongBits(0.0))),
        longField(f, "loss_steps", 0), longField(f, "queue_fill", 0), longField(f, "skipped_nonfinite", 0),
        longField(f, "nonfinite_records", 0));
  }

  private static long longField(Map<String, byte[]> f, String name, long absent) {
    byte[] b = f.get(name);
    if (b == null) {
      return absent;
    }
    if (b.length != 8) {
      throw new IllegalArgumentException("engine state field '" + name + "' has " + b.length + " bytes, expected 8");
    }
    long v = 0;
    for (byte x : b) {
      v = (v << 8) | (x & 0xff);
    }
    return v;
  }

  private static byte[] longBytes(long v) {
    byte[] b = new byte[8];
    for (int i = 7; i >= 0; i--) {
      b[i] = (byte) v;
      v >>>= 8;
    }
    return b;
  }

  private static byte[] batchBytes(List<TrainingEngine.TrainingRecord> batch) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(batch.size());
      for (TrainingEngine.TrainingRecord r : batch) {
        out.writeLong(r.id());
        out.writeLong(r.label());
        out.writeInt(r.features().length);
        for (float x : r.features()) {
          out.writeFloat(x);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bytes.toByteArray();
  }

  /** {@code int n · n × {long id · long label · int width · width floats}}: the same in versions 1 and 2. */
  private static List<TrainingEngine.TrainingRecord> readBatch(DataInputStream in) throws IOException {
    int n = length(in.readInt(), in, "partial batch");
    List<TrainingEngine.TrainingRecord> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long id = in.readLong();
      long label = in.readLong();
      float[] x = new float[length(in.readInt(), in, "record " + id)];
      for (int j = 0; j < x.length; j++) {
        x[j] = in.readFloat();
      }
      batch.add(new TrainingEngine.TrainingRecord(id, label, x));
    }
    return batch;
  }

  /** A length read from the stream, checked against what is left (no huge allocation from corrupt bytes). */
  private static int length(int n, DataInputStream in, String what) throws IOException {
    if (n < 0 || n > in.available()) {
      throw new IllegalArgumentException("engine state: " + what + " claims " + n + " entries/bytes, "
          + in.available() + " bytes are left");
    }
    return n;
  }

  private static void requireEnd(DataInputStream in) throws IOException {
    if (in.available() > 0) {
      throw new IllegalArgumentException("engine state has " + in.available() + " trailing bytes");
    }
  }
}
