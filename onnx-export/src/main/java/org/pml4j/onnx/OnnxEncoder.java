package org.pml4j.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An encoder exported by {@link OnnxExporter}, run by ONNX Runtime: float rows in, embeddings out.
 *
 * <p>Thread-safe: any number of threads may call {@link #embed} at once (ONNX Runtime sessions run concurrently);
 * {@link #close()} waits for running calls and later calls fail with {@link IllegalStateException}.
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

  private final OrtSession session;
  private final String inputName;
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
    long[] out = ((TensorInfo) session.getOutputInfo().values().iterator().next().getInfo()).getShape();
    this.metadata = Collections.unmodifiableMap(session.getMetadata().getCustomMetadata());
    String meta = metadata.get(OnnxExporter.META_EMBEDDING_SIZE);
    this.embeddingSize = meta != null ? Integer.parseInt(meta) : out.length == 2 && out[1] > 0 ? (int) out[1] : -1;
  }

  /** Loads a serialized model with default options. */
  public static OnnxEncoder load(byte[] model) {
    return load(model, Options.defaults());
  }

  /** Loads a model file with default options. */
  public static OnnxEncoder load(Path file) {
    try {
      return load(Files.readAllBytes(file), Options.defaults());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Loads a serialized model. */
  public static OnnxEncoder load(byte[] model, Options options) {
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
   * @throws IllegalArgumentException on a row of the wrong length
   */
  public float[][] embed(float[][] rows) {
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
      if (closed) {
        throw new IllegalStateException("OnnxEncoder is closed");
      }
      for (int from = 0; from < rows.length; from += options.maxBatchSize()) {
        int n = Math.min(options.maxBatchSize(), rows.length - from);
        run(rows, from, n, out);
      }
    } finally {
      lock.readLock().unlock();
    }
    return out;
  }

  /** Embeds one sample. */
  public float[] embed(float[] row) {
    return embed(new float[][] {row})[0];
  }

  private void run(float[][] rows, int from, int n, float[][] out) {
    FloatBuffer buf = FloatBuffer.allocate(n * inputSize);
    for (int i = 0; i < n; i++) {
      buf.put(rows[from + i]);
    }
    buf.flip();
    long[] shape = new long[inputShape.length + 1];
    shape[0] = n;
    System.arraycopy(inputShape, 0, shape, 1, inputShape.length);
    try (OnnxTensor x = OnnxTensor.createTensor(environment(), buf, shape);
        OrtSession.Result r = session.run(Map.of(inputName, x))) {
      OnnxTensor y = (OnnxTensor) r.get(0);
      long[] ys = y.getInfo().getShape();
      FloatBuffer fb = y.getFloatBuffer();
      int e = n == 0 ? Math.max(embeddingSize, 0) : fb.remaining() / n;
      if (ys.length != 2 || ys[0] != n) {
        throw new IllegalStateException("the model returned shape " + Arrays.toString(ys) + " for " + n + " rows");
      }
      for (int i = 0; i < n; i++) {
        float[] v = new float[e];
        fb.get(v);
        out[from + i] = v;
      }
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
    }
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
        session.close();
      }
    } catch (OrtException e) {
      throw new IllegalStateException(e);
    } finally {
      lock.writeLock().unlock();
    }
  }
}
