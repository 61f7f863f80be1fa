package org.pml4j.flink;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.torch.Torch;
import org.pml4j.train.RetrievalEval;

/**
 * The streaming evaluator's scoring thread: one daemon thread at the {@link EvalPolicy}'s priority that scores ONNX
 * models ({@link #score}) and measures the wall and CPU time of each evaluation (the CPU time sets the policy's
 * pause).
 */
final class EvalWorker implements AutoCloseable {
  /**
   * Query rows per k-NN chunk: a 128 x 10,000 distance block is 5 MB, small enough for the C allocator to reuse its
   * memory from chunk to chunk. (The default of 1,024 rows makes 41 MB blocks, which glibc maps and unmaps afresh for
   * every temporary. Measured on 10,000 rows: 137,000 instead of 330,000 page faults for the k-NN, 0.24 instead of
   * 0.6 s of kernel time; the scores are the same.)
   */
  static final int KNN_CHUNK_ROWS = 128;

  private final ExecutorService executor;
  private volatile long lastMillis;
  private volatile long lastCpuNanos;

  /** A worker thread named {@code name} at {@code policy}'s priority. */
  EvalWorker(EvalPolicy policy, String name) {
    this.executor = Executors.newSingleThreadExecutor(policy.threads(name));
  }

  /** Scores {@code onnx} on the rows on the worker thread. */
  CompletableFuture<Map<String, Double>> submit(byte[] onnx, float[][] rows, long[] labels) {
    return CompletableFuture.supplyAsync(() -> {
      Torch.setNumThreads(1);
      ThreadMXBean bean = ManagementFactory.getThreadMXBean();
      boolean cpu = bean.isCurrentThreadCpuTimeSupported();
      long t0 = System.nanoTime();
      long c0 = cpu ? bean.getCurrentThreadCpuTime() : 0;
      Map<String, Double> r = score(onnx, rows, labels);
      long wall = System.nanoTime() - t0;
      lastMillis = wall / 1_000_000;
      lastCpuNanos = cpu ? bean.getCurrentThreadCpuTime() - c0 : wall;
      return r;
    }, executor);
  }

  /** Wall time of the last evaluation, ms. */
  long lastMillis() {
    return lastMillis;
  }

  /** CPU time of the last evaluation, ns (its wall time where the JVM cannot measure thread CPU time). */
  long lastCpuNanos() {
    return lastCpuNanos;
  }

  /**
   * Scores an ONNX model on labeled rows as their own reference: ONNX Runtime's embeddings (one thread), then
   * {@link RetrievalEval#metrics(float[][], long[], int)} (the metrics of {@code pml4j train} and {@code eval}) with
   * k-NN chunks of {@value #KNN_CHUNK_ROWS} rows.
   */
  static Map<String, Double> score(byte[] onnx, float[][] rows, long[] labels) {
    float[][] emb;
    try (OnnxEncoder enc = OnnxEncoder.load(onnx, new OnnxEncoder.Options(1, 4096))) {
      emb = enc.embed(rows);
    }
    return RetrievalEval.metrics(emb, labels, KNN_CHUNK_ROWS);
  }

  /** Stops the thread (an evaluation in flight is interrupted). */
  @Override
  public void close() {
    executor.shutdownNow();
  }
}
