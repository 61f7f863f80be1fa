package org.pml4j.torch;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.openblas.global.openblas_full;

/**
 * Runs OpenBLAS's parallel jobs on pml4j's Java pool ({@link Parallel}) through OpenBLAS's threads callback
 * ({@code openblas_threads_callback_}, OpenBLAS 0.3.27+; the presets do not map its setter, so the exported variable
 * is written directly). OpenBLAS then calls {@link #call} with its job list instead of waking its own pthreads, whose
 * idle loop spins. All jobs of one call run concurrently (OpenBLAS's level-3 jobs wait on each other).
 */
final class BlasOnJavaThreads extends openblas_full.openblas_threads_callback {
  private static final String SYMBOL = "openblas_threads_callback_";
  private static BlasOnJavaThreads instance;
  private static boolean installed;

  private BlasOnJavaThreads() {}

  @Override
  public void call(int sync, openblas_full.openblas_dojob_callback dojob, int numjobs, long elsize, Pointer jobdata,
      int dojobData) {
    long base = jobdata.address();
    // JavaCPP hands a function-pointer argument over as the address of the slot that holds it.
    openblas_full.openblas_dojob_callback job = new openblas_full.openblas_dojob_callback(
        new PointerPointer<Pointer>(dojob).get(0));
    Parallel.forRows(numjobs, numjobs, (chunk, from, to) -> {
      for (int i = from; i < to; i++) {
        long at = base + i * elsize;
        job.call(chunk, new Pointer() {
          {
            address = at;
          }
        }, dojobData);
      }
    });
  }

  /**
   * Installs (or removes) the callback; returns whether OpenBLAS now runs its jobs on the Java pool (false when this
   * OpenBLAS has no callback variable).
   */
  static synchronized boolean install(boolean on) {
    Pointer var = Loader.addressof(SYMBOL);
    if (var == null || var.isNull()) {
      installed = false;
      return false;
    }
    PointerPointer<Pointer> slot = new PointerPointer<>(var);
    if (on) {
      if (instance == null) {
        instance = new BlasOnJavaThreads();
        instance.retainReference();
      }
      // A JavaCPP callback object's address is its C++ thunk instance, whose first member is the C function pointer.
      Pointer function = new PointerPointer<Pointer>(instance).get(0);
      slot.put(0, function);
    } else {
      slot.put(0, (Pointer) null);
    }
    installed = on;
    return on;
  }

  static synchronized boolean installed() {
    return installed;
  }
}
