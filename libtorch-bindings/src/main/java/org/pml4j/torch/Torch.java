package org.pml4j.torch;

import java.util.Locale;
import java.util.Objects;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_full;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;

/**
 * The one entry point to LibTorch's natives: safe loading, thread counts and device choice.
 *
 * <p>Call {@link #ensureLoaded()} (every pml4j class that makes tensors does) before the first tensor. It unpacks the
 * whole native folder of the pytorch and openblas presets into the JavaCPP cache <em>before</em> loading anything, so
 * that the dynamic linker resolves {@code libtorch_cpu.so} from our cache and never from a system-wide LibTorch (for
 * example Debian's {@code libtorch1.13}); a half-extracted cache otherwise crashes the JVM in
 * {@code pthread_mutex_lock}.
 */
public final class Torch {
  /** JVM-wide record of the class loader that loaded LibTorch (system properties are shared by all class loaders). */
  static final String LOADER_PROPERTY = "pml4j.libtorch.classloader";

  private static volatile boolean loaded;
  private static volatile int configuredThreads = -1;
  private static volatile int kernelThreads = 1;

  private Torch() {}

  /**
   * Extracts and loads the LibTorch and OpenBLAS natives once per class loader; thread-safe and idempotent.
   *
   * @throws IllegalStateException when the natives cannot be loaded, or when another class loader of this JVM has
   *     already loaded LibTorch (a second copy would abort the process; the message gives the Flink cluster recipe)
   */
  public static void ensureLoaded() {
    if (loaded) {
      return;
    }
    synchronized (Torch.class) {
      if (loaded) {
        return;
      }
      ClassLoader natives = torch.class.getClassLoader();
      String me = natives == null ? "bootstrap" : natives.getClass().getName() + "@"
          + Integer.toHexString(System.identityHashCode(natives));
      String owner = System.getProperty(LOADER_PROPERTY);
      if (owner != null && !owner.equals(me)) {
        // A second LibTorch in one process aborts the JVM (duplicate operator registrations): fail the caller instead.
        throw new IllegalStateException("LibTorch is already loaded in this JVM through another class loader (" + owner
            + "); loading a second copy through " + me + " would abort the JVM. This happens when several jobs (or a "
            + "restarted job) share a Flink TaskManager and each brings the Bytedeco jars in its own user-code class "
            + "loader. Put the Bytedeco (javacpp, pytorch, openblas) and ONNX Runtime jars into Flink's lib/ and set "
            + "classloader.parent-first-patterns.additional: org.bytedeco.;ai.onnxruntime. — or run one job per "
            + "TaskManager (application mode). See README, \"Running on a Flink cluster\".");
      }
      try {
        String platform = Loader.getPlatform();
        Loader.cacheResources(openblas_full.class, "/org/bytedeco/openblas/" + platform + "/");
        // The CPU build's natives live under <platform>/, the CUDA build's (-Pcuda) under <platform>-gpu/.
        for (String dir : new String[] {platform, platform + "-gpu"}) {
          String path = "/org/bytedeco/pytorch/" + dir + "/";
          if (torch.class.getResource(path) != null) {
            Loader.cacheResources(torch.class, path);
          }
        }
        Loader.load(openblas_full.class);
        Loader.load(torch.class);
      } catch (Exception | UnsatisfiedLinkError e) {
        throw new IllegalStateException(
            "pml4j could not load the LibTorch natives for platform " + Loader.getPlatform()
                + " (JavaCPP cache: " + System.getProperty("org.bytedeco.javacpp.cachedir", "~/.javacpp/cache")
                + "): " + e.getMessage(), e);
      }
      System.setProperty(LOADER_PROPERTY, me);
      loaded = true;
      // LibTorch's own default (ATen's OpenMP pool and OpenBLAS's pool both at the core count) oversubscribes the
      // cores; start from pml4j's setting instead: PML4J_THREADS, else 1. One thread per task thread is right when
      // several operators share the cores (the streaming job: trainer, evaluator, embedder): a default of the core
      // count made the default `pml4j stream` train 17 % slower (12,900-13,500 against 16,100 samples/s in train
      // steps on 2 cores). Use more per trainer with setNumThreads / the trainer's `threads`.
      String env = System.getenv("PML4J_THREADS");
      int n = 1;
      if (env != null && !env.isBlank()) {
        try {
          n = Integer.parseInt(env.trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("PML4J_THREADS must be a whole number >= 1, got '" + env + "'", e);
        }
      }
      setNumThreads(Math.max(1, n));
    }
  }

  /**
   * Lets one trainer use {@code n} cores: OpenBLAS's GEMMs run on {@code n} threads and pml4j's fused kernels on
   * {@code n} Java threads, while ATen's own OpenMP pool stays at 1 thread.
   *
   * <p>Why: ATen's OpenMP pool and OpenBLAS's pthread pool are two teams of busy-waiting threads. After each parallel
   * region an OpenMP worker spins for milliseconds (libgomp's default wait policy), and after each GEMM an OpenBLAS
   * worker spins too; a training step alternates GEMMs and element-wise ops every few hundred microseconds, so with
   * both pools at 2 threads on 2 cores each team's spinning thread holds the core the other team needs (a
   * CrossBatchMemory step took 2.8x longer at 2 threads than at 1). {@code OMP_WAIT_POLICY=PASSIVE} helps but must
   * be in the environment before libgomp loads, which a JVM cannot arrange for itself. So pml4j keeps one team:
   * OpenBLAS's GEMM jobs are handed to pml4j's Java thread pool ({@link Parallel}, whose idle threads park instead of
   * spinning) through OpenBLAS's threads callback, the same pool that runs pml4j's fused loss kernels, and ATen's
   * element-wise ops run on the calling thread. {@link #setThreads} sets the three counts separately.
   *
   * @param n threads, at least 1
   */
  public static void setNumThreads(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("thread count must be >= 1, got " + n);
    }
    setThreads(1, n, n, true);
    configuredThreads = n;
  }

  /**
   * Expert setting of the three thread counts (for measurements; {@link #setNumThreads(int)} is the one to use).
   *
   * @param aten ATen's intra-op (OpenMP) threads
   * @param blas OpenBLAS's GEMM threads
   * @param kernels Java threads of pml4j's fused kernels
   * @param blasOnJavaPool run OpenBLAS's jobs on pml4j's Java pool (true) or OpenBLAS's own pthreads (false)
   */
  public static void setThreads(int aten, int blas, int kernels, boolean blasOnJavaPool) {
    if (aten < 1 || blas < 1 || kernels < 1) {
      throw new IllegalArgumentException("thread counts must be >= 1, got aten " + aten + ", blas " + blas
          + ", kernels " + kernels);
    }
    ensureLoaded();
    torch.set_num_threads(aten);
    openblas_full.openblas_set_num_threads(blas);
    BlasOnJavaThreads.install(blasOnJavaPool && blas > 1);
    kernelThreads = kernels;
    configuredThreads = Math.max(aten, Math.max(blas, kernels));
  }

  /** The value last given to {@link #setNumThreads(int)}, or ATen's current intra-op thread count. */
  public static int numThreads() {
    ensureLoaded();
    return configuredThreads > 0 ? configuredThreads : torch.get_num_threads();
  }

  /** Threads of pml4j's fused kernels ({@link Parallel}): the value of {@link #setNumThreads(int)}, default 1. */
  public static int kernelThreads() {
    return kernelThreads;
  }

  /** Whether this LibTorch build sees a usable CUDA device. */
  public static boolean cudaAvailable() {
    ensureLoaded();
    try {
      return torch.cuda_is_available();
    } catch (Throwable t) {
      return false;
    }
  }

  /** The CUDA devices this LibTorch build sees: 0 on a CPU-only build or a machine without a GPU. */
  public static int cudaDeviceCount() {
    if (!cudaAvailable()) {
      return 0;
    }
    try {
      return torch.cuda_device_count() & 0xff;
    } catch (Throwable t) {
      return 0;
    }
  }

  /**
   * Parses a device name: {@code cpu}, {@code cuda}, {@code cuda:N}, or {@code auto} (CUDA when available, else CPU).
   *
   * @throws IllegalArgumentException for an unknown name, or a CUDA device when this build has none, or a CUDA index
   *     beyond the devices it sees
   */
  public static Device device(String name) {
    ensureLoaded();
    String n = Objects.requireNonNull(name, "device").trim().toLowerCase(Locale.ROOT);
    if (n.equals("auto")) {
      n = cudaAvailable() ? "cuda" : "cpu";
    }
    if (n.equals("cpu")) {
      return new Device(torch.DeviceType.CPU, (byte) -1);
    }
    if (n.equals("cuda") || n.startsWith("cuda:")) {
      byte index = 0;
      if (n.startsWith("cuda:")) {
        try {
          index = Byte.parseByte(n.substring(5));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("bad CUDA device index in '" + name + "'", e);
        }
        if (index < 0) {
          throw new IllegalArgumentException("bad CUDA device index in '" + name + "'");
        }
      }
      if (!cudaAvailable()) {
        throw new IllegalArgumentException(
            "device '" + name + "' requested but LibTorch sees no CUDA device (CPU-only build or no GPU);"
                + " use cpu, or build with the cuda Maven profile (-Pcuda) and run on a machine with an NVIDIA GPU");
      }
      int count = cudaDeviceCount();
      if (index >= count) {
        throw new IllegalArgumentException("device '" + name + "' requested but LibTorch sees " + count
            + " CUDA device(s): cuda:0.." + "cuda:" + (count - 1));
      }
      return new Device(torch.DeviceType.CUDA, index);
    }
    throw new IllegalArgumentException("unknown device '" + name + "'; use cpu, cuda, cuda:N or auto");
  }
}
