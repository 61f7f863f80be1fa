package org.pml4j.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.bytedeco.openblas.global.openblas_full;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Torch#setNumThreads(int)}: one ATen thread, OpenBLAS's GEMM jobs on pml4j's Java pool, correct results. */
class TorchThreadsTest {
  @AfterEach
  void reset() {
    Torch.setNumThreads(1);
  }

  private static float[] product(long seed, int n) {
    // inputs from java.util.Random: LibTorch's global generator is shared by concurrent callers
    java.util.Random r = new java.util.Random(seed);
    double[] a = new double[n * n];
    double[] b = new double[n * n];
    for (int i = 0; i < a.length; i++) {
      a[i] = r.nextGaussian();
      b[i] = r.nextGaussian();
    }
    try (Scope s = Scope.open()) {
      Tensor ta = Tensors.of(a, org.bytedeco.pytorch.global.torch.ScalarType.Float, n, n);
      Tensor tb = Tensors.of(b, org.bytedeco.pytorch.global.torch.ScalarType.Float, n, n);
      return Tensors.toFloats(ta.mm(tb));
    }
  }

  @Test
  void setNumThreadsSetsThePools() {
    Torch.setNumThreads(2);
    assertEquals(1, torch.get_num_threads(), "ATen's OpenMP pool stays at 1 thread");
    assertEquals(2, openblas_full.openblas_get_num_threads());
    assertEquals(2, Torch.kernelThreads());
    assertEquals(2, Torch.numThreads());
    assertTrue(BlasOnJavaThreads.installed(), "OpenBLAS's jobs run on the Java pool");
    Torch.setNumThreads(1);
    assertFalse(BlasOnJavaThreads.installed());
    assertEquals(1, openblas_full.openblas_get_num_threads());
    assertThrows(IllegalArgumentException.class, () -> Torch.setNumThreads(0));
  }

  /** GEMMs split over the Java pool give the single-thread result, also with several callers at once. */
  @Test
  void gemmOnTheJavaPoolIsCorrectAndThreadSafe() throws Exception {
    Torch.setNumThreads(1);
    List<float[]> want = new ArrayList<>();
    for (int k = 0; k < 4; k++) {
      want.add(product(k, 384));
    }
    Torch.setNumThreads(2);
    for (int k = 0; k < 4; k++) {
      assertArrayEquals(want.get(k), product(k, 384), 1e-3f, "GEMM " + k + " on the Java pool");
    }
    ExecutorService callers = Executors.newFixedThreadPool(3);
    try {
      List<Future<float[]>> got = new ArrayList<>();
      for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 4; k++) {
          int kk = k;
          Callable<float[]> c = () -> product(kk, 384);
          got.add(callers.submit(c));
        }
      }
      for (int i = 0; i < got.size(); i++) {
        assertArrayEquals(want.get(i % 4), got.get(i).get(), 1e-3f, "concurrent GEMM " + i);
      }
    } finally {
      callers.shutdown();
    }
  }

  @Test
  void parallelRowsCoverEveryRowOnce() {
    int[] hits = new int[1001];
    int chunks = Parallel.forRows(1001, 3, (c, from, to) -> {
      for (int i = from; i < to; i++) {
        hits[i]++;
      }
    });
    assertEquals(3, chunks);
    for (int h : hits) {
      assertEquals(1, h);
    }
    assertThrows(IllegalStateException.class, () -> Parallel.forRows(10, 2, (c, from, to) -> {
      if (c == 1) {
        throw new IllegalStateException("chunk failed");
      }
    }));
  }
}
