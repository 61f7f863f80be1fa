package org.pml4j.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.OnnxJavaType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An encoder exported by {@link OnnxExporter}, run by ONNX Runtime: float rows in, embeddings out.
 *
 * <p>Thread-safe: any number of threads may call {@link #embed} and {@link #embedFlat} at once (ONNX Runtime sessions
 * run concurrently); {@link #close()} waits for running calls and later calls fail with {@link IllegalStateException}.
 *
 * <p>Serving cost: each call takes a slot from a pool (one per concurrently running call, made on demand and kept
 * for the encoder's life when it holds at most 2<sup>20</sup> floats): direct input and output buffers with their
 * ONNX Runtime tensors for the last batch size it ran. ONNX Runtime reads the input and writes the output in place
 * (a pinned output), so a call at a repeated batch size creates no native tensor and allocates nothing besides the
 * returned arrays ({@link #embedFlat(float[], float[])}: nothing at all). The session runs with one intra-op thread by
 * default and without spin-waiting (see {@link Options}).
 *
 * <p>Input rows are the flattened per-sample input ({@code prod(input_shape)} values, e.g. 784 for an image encoder
 * that starts with {@code Unflatten(1, [1, 28, 28])}); they are reshaped to the model's input shape.
 *
 * <p>The ONNX Runtime environment is created once, on a thread with a 64 MB stack: ONNX Runtime 1.29.0 overflows a 1 MB
 * stack while creating it when the process command line is long (a silent SIGSEGV); pml4j pins 1.28.0, and this keeps
 * the environment safe under any version.
 */
public final class OnnxEncoder implements AutoCloseable {
  private static final AtomicReference<OrtEnvironment> ENV = new AtomicReference<>();

  /** A slot whose input and output together exceed this many floats is not pooled (freed after its call). */
  private static final long MAX_POOLED_FLOATS = 1L << 20;

  private final OrtSession session;
  private final String inputName;
  private final String outputName;
  /** Whether the output is a float {@code [batch, embeddingSize]} tensor that calls can pre-allocate. */
  private final boolean pinnedOutput;
  /** Idle {@link Slot}s: a call takes one (or makes one) and puts it back, so concurrent calls never share one. */
  private final ConcurrentLinkedDeque<Slot> pool = new ConcurrentLinkedDeque<>();
  private final long[] inputShape;
  private final int inputSize;
  private final int embeddingSize;
  private final Map<String, String> metadata;
  private final Options options;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private boolean closed;

  /**
   * Session settings.
   *
   * @param intraOpThreads ONNX Runtime's intra-op threads per call (1 is right when several threads call at once)
   * @param maxBatchSize larger inputs are run in chunks of this many rows (bounds the native memory of one call)
   */
  public record Options(int intraOpThreads, int maxBatchSize) {
    public Options {
      if (intraOpThreads < 1 || maxBatchSize < 1) {
        throw new IllegalArgumentException("intraOpThreads and maxBatchSize must be >= 1");
      }
    }

    public static Options defaults() {
      return new Options(1, 4096);
    }
  }

  private OnnxEncoder(OrtSession session, Options options) throws OrtException {
    this.session = session;
    this.options = options;
    if (session.getNumInputs() != 1 || session.getNumOutputs() != 1) {
      throw new IllegalArgumentException("expected a model with one input and one output, got "
          + session.getInputNames() + " -> " + session.getOutputNames());
    }
    Map.Entry<String, NodeInfo> in = session.getInputInfo().entrySet().iterator().next();
    this.inputName = in.getKey();
    long[] full = ((TensorInfo) in.getValue().getInfo()).getShape();
    this.inputShape = Arrays.copyOfRange(full, 1, full.length);
    long size = 1;
    for (long d : inputShape) {
      if (d <= 0) {
        throw new IllegalArgumentException("the model's input shape " + Arrays.toString(full)
            + " has a dynamic dimension besides the batch");
      }
      size *= d;
    }
    this.inputSize = Math.toIntExact(size);
    Map.Entry<String, NodeInfo> outInfo = session.getOutputInfo().entrySet().iterator().next();
    this.outputName = outInfo.getKey();
    TensorInfo outTensor = (TensorInfo) outInfo.getValue().getInfo();
    long[] out = outTensor.getShape();
    this.metadata = Collections.unmodifiableMap(session.getMetadata().getCustomMetadata());
    String meta = metadata.get(OnnxExporter.META_EMBEDDING_SIZE);
    this.embeddingSize = meta != null ? Integer.parseInt(meta) : out.length == 2 && out[1] > 0 ? (int) out[1] : -1;
    this.pinnedOutput = embeddingSize > 0 && out.length == 2 && (out[1] <= 0 || out[1] == embeddingSize)
        && outTensor.type == OnnxJavaType.FLOAT;
  }

  /**
   * Loads a serialized model with default options.
   *
   * @throws IllegalArgumentException on a null {@code model} or one ONNX Runtime cannot load
   */
  public static OnnxEncoder load(byte[] model) {
    return load(model, Options.defaults());
  }

  /**
   * Loads a model file with default options.
   *
   * @throws IllegalArgumentException on a null {@code file}, a file that cannot be read (missing, a directory, no
   *     permission: the message names the file and the cause) or one ONNX Runtime cannot load
   */
  public static OnnxEncoder load(Path file) {
    byte[] model = readModel(file);
    try {
      return load(model, Options.defaults());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("ONNX model file " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * The bytes of a model file.
   *
   * @throws IllegalArgumentException on a null {@code file} or one that cannot be read, naming the file and the cause
   */
  static byte[] readModel(Path file) {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    if (Files.isDirectory(file)) {
      throw new IllegalArgumentException("cannot read the ONNX model file " + file + ": it is a directory");
    }
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("cannot read the ONNX model file " + file + ": no such file", e);
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException("cannot read the ONNX model file " + file + ": permission denied", e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the ONNX model file " + file + ": " + e, e);
    }
  }

  /**
   * Loads a serialized model.
   *
   * @throws IllegalArgumentException on a null argument or a model ONNX Runtime cannot load
   */
  public static OnnxEncoder load(byte[] model, Options options) {
    if (model == null) {
      throw new IllegalArgumentException("model must not be null");
    }
    if (options == null) {
      throw new IllegalArgumentException("options must not be null");
    }
    OrtSession session = null;
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setIntraOpNumThreads(options.intraOpThreads());
      so.setInterOpNumThreads(1);
      so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      so.addConfigEntry("session.intra_op.allow_spinning", "0");
      session = environment().createSession(model, so);
      return new OnnxEncoder(session, options);
    } catch (OrtException e) {
      closeQuietly(session);
      throw new IllegalArgumentException("ONNX Runtime cannot load the model: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(session);
      throw e;
    }
  }

  private static void closeQuietly(OrtSession s) {
    if (s != null) {
      try {
        s.close();
      } catch (OrtException ignored) {
        // already failing
      }
    }
  }

  /** The process-wide ONNX Runtime environment, created on a 64 MB-stack thread (see the class comment). */
  public static OrtEnvironment environment() {
    OrtEnvironment env = ENV.get();
    if (env != null) {
      return env;
    }
    synchronized (ENV) {
      if (ENV.get() == null) {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(null, () -> {
          try {
            ENV.set(OrtEnvironment.getEnvironment());
          } catch (Throwable e) {
            failure.set(e);
          }
        }, "pml4j-ort-init", 64L << 20);
        t.start();
        try {
          t.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while creating the ONNX Runtime environment", e);
        }
        if (ENV.get() == null) {
          throw new IllegalStateException("cannot create the ONNX Runtime environment", failure.get());
        }
      }
      return ENV.get();
    }
  }

  /**
   * Embeds a batch.
   *
   * @param rows one row of {@link #inputSize()} values per sample
   * @return one embedding per row
   * @throws IllegalArgumentException on a null {@code rows} or a row of the wrong length
   * @throws IllegalStateException after {@link #close()}
   */
  public float[][] embed(float[][] rows) {
    if (rows == null) {
      throw new IllegalArgumentException("rows must not be null");
    }
    for (int i = 0; i < rows.length; i++) {
      if (rows[i] == null || rows[i].length != inputSize) {
        throw new IllegalArgumentException("row " + i + " has " + (rows[i] == null ? "no" : rows[i].length)
            + " values; the model takes " + inputSize + " per sample (input shape " + Arrays.toString(inputShape)
            + ")");
      }
    }
    float[][] out = new float[rows.length][];
    lock.readLock().lock();
    try {
      ensureOpen();
      for (int from = 0; from < rows.length; from += options.maxBatchSize()) {
        int n = Math.min(options.maxBatchSize(), rows.length - from);
        int first = from;
        run(n, in -> {
          for (int i = 0; i < n; i++) {
            in.put(rows[first + i]);
          }
        }, (fb, e) -> {
          for (int i = 0; i < n; i++) {
            float[] v = new float[e];
            fb.get(v);
            out[first + i] = v;
          }
        });
      }
    } finally {
      lock.readLock().unlock();
    }
    return out;
  }

  /**
   * Embeds one sample.
   *
   * @param row {@link #inputSize()} values
   * @return its embedding
   * @throws IllegalArgumentException on a null {@code row} or one of the wrong length
   * @throws IllegalStateException after {@link #close()}
   */
  public float[] embed(float[] row) {
    if (row == null) {
      throw new IllegalArgumentException("row must not be null");
    }
    if (row.length != inputSize) {
      throw new IllegalArgumentException("row has " + row.length + " values; the model takes " + inputSize
          + " per sample (input shape " + Arrays.toString(inputShape) + ")");
    }
    float[][] out = new float[1][];
    lock.readLock().lock();
    try {
      ensureOpen();
      run(1, in -> in.put(row), (fb, e) -> {
        out[0] = new float[e];
        fb.get(out[0]);
      });
    } finally {
      lock.readLock().unlock();
    }
    return out[0];
  }

  /**
   * Embeds a batch of flat rows: {@code rows[i * inputSize() + j]} is value {@code j} of sample {@code i}; the result
   * holds embedding {@code i} at {@code [i * e, (i + 1) * e)}. No per-row arrays on either side.
   *
   * @param rows {@code n * inputSize()} values
   * @return {@code n * e} values, {@code e} the model's embedding size
   * @throws IllegalArgumentException on a null {@code rows} or a length that is not a multiple of {@link #inputSize()}
   * @throws IllegalStateException after {@link #close()}, or for a model whose embedding size is unknown
   */
  public float[] embedFlat(float[] rows) {
    int n = flatRows(rows);
    if (embeddingSize < 0) {
      throw new IllegalStateException("the model states no embedding size (no metadata, dynamic output shape)");
    }
    float[] out = new float[n * embeddingSize];
    embedFlat(rows, out);
    return out;
  }

  /**
   * {@link #embedFlat(float[])} into a caller's array, so that a serving loop allocates nothing per call.
   *
   * @param rows {@code n * inputSize()} values
   * @param out receives {@code n * embeddingSize()} values (exactly that length)
   * @throws IllegalArgumentException on a null argument or lengths that do not match
   * @throws IllegalStateException after {@link #close()}
   */
  public void embedFlat(float[] rows, float[] out) {
    int n = flatRows(rows);
    if (out == null) {
      throw new IllegalArgumentException("out must not be null");
    }
    if (embeddingSize < 0 || out.length != (long) n * embeddingSize) {
      throw new IllegalArgumentException("out has " + out.length + " values; " + n + " rows take "
          + (embeddingSize < 0 ? "n * embedding size (unknown for this model)" : n * (long) embeddingSize));
    }
    lock.readLock().lock();
    try {
      ensureOpen();
      for (int from = 0; from < n; from += options.maxBatchSize()) {
        int m = Math.min(options.maxBatchSize(), n - from);
        int first = from;
        run(m, in -> in.put(rows, first * inputSize, m * inputSize),
            (fb, e) -> fb.get(out, first * e, m * e));
      }
    } finally {
      lock.readLock().unlock();
    }
  }

  private int flatRows(float[] rows) {
    if (rows == null) {
      throw new IllegalArgumentException("rows must not be null");
    }
    if (rows.length % inputSize != 0) {
      throw new IllegalArgumentException("rows has " + rows.length + " values, not a multiple of the model's "
          + inputSize + " per sample (input shape " + Arrays.toString(inputShape) + ")");
    }
    return rows.length / inputSize;
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("OnnxEncoder is closed");
    }
  }

  /** Fills the input of a run. */
  private interface Fill {
    void into(FloatBuffer in);
  }

  /** Reads the output of a run: {@code n * e} floats. */
  private interface Drain {
    void from(FloatBuffer out, int e);
  }

  /**
   * Runs {@code n} rows on a pooled {@link Slot} (held by this call alone; the caller holds the read lock).
   */
  private void run(int n, Fill fill, Drain drain) {
    if (n == 0) {
      return;
    }
    Slot slot = pool.poll();
    if (slot == null) {
      slot = new Slot();
    }
    boolean keep = false;
    try {
      slot.prepare(n);
      slot.in.clear();
      fill.into(slot.in);
      if (slot.out != null) {
        try (OrtSession.Result r = session.run(slot.inputs, slot.outputs)) {
          slot.out.clear();
          drain.from(slot.out, embeddingSize);
        }
      } else {
        try (OrtSession.Result r = session.run(slot.inputs)) {
          OnnxTensor y = (OnnxTensor) r.get(0);
          long[] ys = y.getInfo().getShape();
          if (ys.length != 2 || ys[0] != n) {
            throw new IllegalStateException("the model returned shape " + Arrays.toString(ys) + " for " + n
                + " rows");
          }
          FloatBuffer fb = y.getFloatBuffer();
          drain.from(fb, fb.remaining() / n);
        }
      }
      keep = (long) n * (inputSize + Math.max(embeddingSize, 0)) <= MAX_POOLED_FLOATS;
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
    } finally {
      if (keep) {
        pool.push(slot);
      } else {
        slot.close();
      }
    }
  }

  /**
   * The reusable state of one call: direct (native-order) input and output buffers and the {@link OnnxTensor}s
   * over them for one batch size. ONNX Runtime reads the input and writes the output in place (the output is
   * passed to {@code run} as a pinned output), so a call at the slot's batch size creates no tensor and copies
   * each value once in and once out.
   */
  private final class Slot {
    int rows = -1;
    FloatBuffer in;
    FloatBuffer out;
    OnnxTensor inTensor;
    OnnxTensor outTensor;
    Map<String, OnnxTensor> inputs;
    Map<String, OnnxTensor> outputs;

    void prepare(int n) throws OrtException {
      if (n == rows) {
        return;
      }
      close();
      long[] shape = new long[inputShape.length + 1];
      shape[0] = n;
      System.arraycopy(inputShape, 0, shape, 1, inputShape.length);
      in = directFloats(n * inputSize);
      inTensor = OnnxTensor.createTensor(environment(), in, shape);
      inputs = Map.of(inputName, inTensor);
      if (pinnedOutput) {
        out = directFloats(n * embeddingSize);
        outTensor = OnnxTensor.createTensor(environment(), out, new long[] {n, embeddingSize});
        outputs = Map.of(outputName, outTensor);
      }
      rows = n;
    }

    void close() {
      if (inTensor != null) {
        inTensor.close();
      }
      if (outTensor != null) {
        outTensor.close();
      }
      inTensor = null;
      outTensor = null;
      in = null;
      out = null;
      rows = -1;
    }
  }

  private static FloatBuffer directFloats(int n) {
    return ByteBuffer.allocateDirect(Math.multiplyExact(n, Float.BYTES)).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
  }

  /** Values per input row. */
  public int inputSize() {
    return inputSize;
  }

  /** The per-sample input shape (without the batch dimension). */
  public long[] inputShape() {
    return inputShape.clone();
  }

  /** The embedding size (from metadata, else from the output shape; -1 if neither says). */
  public int embeddingSize() {
    return embeddingSize;
  }

  /** {@code "l2"} or {@code "none"} (or {@code "unknown"} for a model without pml4j metadata). */
  public String normalization() {
    return metadata.getOrDefault(OnnxExporter.META_NORMALIZATION, "unknown");
  }

  /** The model version from the metadata, or -1. */
  public long modelVersion() {
    String v = metadata.get(OnnxExporter.META_MODEL_VERSION);
    return v == null ? -1 : Long.parseLong(v);
  }

  /** The training step from the metadata, or -1. */
  public long trainingStep() {
    String v = metadata.get(OnnxExporter.META_TRAINING_STEP);
    return v == null ? -1 : Long.parseLong(v);
  }

  /** The encoder's spec JSON from the metadata, or null. */
  public String spec() {
    return metadata.get(OnnxExporter.META_SPEC);
  }

  /** Every metadata_props entry. */
  public Map<String, String> metadata() {
    return metadata;
  }

  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        for (Slot slot = pool.poll(); slot != null; slot = pool.poll()) {
          slot.close();
        }
        session.close();
      }
    } catch (OrtException e) {
      throw new IllegalStateException(e);
    } finally {
      lock.writeLock().unlock();
    }
  }
}
