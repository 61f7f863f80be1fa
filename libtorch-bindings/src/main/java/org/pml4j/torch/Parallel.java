package org.pml4j.torch;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Row-parallel loops on Java threads for pml4j's own fused kernels (loops over native tensor memory that no single
 * ATen op does). The calling thread runs the first chunk; helpers come from one shared pool of daemon threads.
 * Kernels must not call ATen ops that need the caller's thread-local state (grad mode, scopes) from a chunk.
 */
public final class Parallel {
  private static final AtomicInteger IDS = new AtomicInteger();
  private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "pml4j-kernel-" + IDS.incrementAndGet());
    t.setDaemon(true);
    return t;
  });

  /** A chunk of rows {@code [from, to)}, run as chunk number {@code chunk}. */
  @FunctionalInterface
  public interface Chunk {
    void run(int chunk, int from, int to);
  }

  private Parallel() {}

  /**
   * Splits rows {@code [0, n)} into at most {@code threads} contiguous chunks and runs them concurrently, returning
   * when all are done. An exception in a chunk is rethrown (as an unchecked exception).
   *
   * @return the number of chunks used (chunk indices are {@code 0 .. result-1})
   */
  public static int forRows(int n, int threads, Chunk body) {
    int chunks = Math.max(1, Math.min(threads, n));
    if (chunks == 1) {
      body.run(0, 0, n);
      return 1;
    }
    @SuppressWarnings("unchecked")
    Future<?>[] futures = new Future<?>[chunks - 1];
    for (int c = 1; c < chunks; c++) {
      int chunk = c;
      futures[c - 1] = POOL.submit(() -> body.run(chunk, bound(n, chunks, chunk), bound(n, chunks, chunk + 1)));
    }
    RuntimeException failure = null;
    try {
      body.run(0, 0, bound(n, chunks, 1));
    } catch (RuntimeException e) {
      failure = e;
    }
    for (Future<?> f : futures) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        failure = failure != null ? failure : new IllegalStateException("interrupted", e);
      } catch (java.util.concurrent.ExecutionException e) {
        Throwable c = e.getCause();
        if (failure == null) {
          failure = c instanceof RuntimeException r ? r : new IllegalStateException(c);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
    return chunks;
  }

  private static int bound(int n, int chunks, int c) {
    return (int) ((long) n * c / chunks);
  }
}
