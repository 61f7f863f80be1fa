package org.pml4j.distributed;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;

/** Runs one body per rank, each on its own thread (LibTorch grad mode and scopes are thread-local). */
final class Ranks {
  private Ranks() {}

  /** A TCP port that was free a moment ago. */
  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs {@code body(rank)} for every rank in parallel and returns the results in rank order. */
  static <T> List<T> run(int worldSize, long timeoutSeconds, IntFunction<T> body) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(worldSize);
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (int r = 0; r < worldSize; r++) {
        int rank = r;
        futures.add(pool.submit(() -> body.apply(rank)));
      }
      List<T> out = new ArrayList<>();
      for (Future<T> f : futures) {
        try {
          out.add(f.get(timeoutSeconds, TimeUnit.SECONDS));
        } catch (ExecutionException e) {
          if (e.getCause() instanceof Exception ex) {
            throw ex;
          }
          throw e;
        } catch (TimeoutException e) {
          throw new AssertionError("a rank did not finish within " + timeoutSeconds + " s", e);
        }
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }
}
