package org.pml4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.losses.ContrastiveLoss;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Torch;

/**
 * Harness benchmark of one CrossBatchMemory(ContrastiveLoss) training step: forward + backward of a fixed batch
 * {@code [256, 128]} (10 classes) against a full memory of M slots, at several memory sizes and thread counts.
 *
 * <pre>
 *   java -cp ... org.pml4j.bench.CbmStepBench [--memory 4096,16384,65536] [--threads 1,2] [--steps 15]
 *       [--warmup 3] [--rounds 3] [--batch 256] [--dim 128] [--classes 10] [--pml-json a.json,b.json]
 *       [--jit-warmup-seconds 2]
 *       [--pml-src DIR [--pml-threads 1,2] [--pml-python /usr/bin/python3]]
 * </pre>
 *
 * <p>Thread counts go through {@link Torch#setNumThreads(int)}; a count written {@code A:B:K[:own]} goes through
 * {@link Torch#setThreads} (ATen A, OpenBLAS B, pml4j kernels K; {@code own}: OpenBLAS's own pthreads), for
 * investigating the pools. Thread settings alternate within each round
 * ({@code rounds} times), so drifts of a shared machine hit all alike; each figure is the median over rounds of the
 * per-round median step time. The floor is two GEMMs of {@code batch x M x dim} (forward and the embedding gradient)
 * at the GFLOP/s of a plain 1024^3 matmul measured right before each measurement at the same thread setting
 * (median over those). {@code --pml-src} (a PML 2.8.1 source tree)
 * runs {@code scripts/bench_cbm_pml.py} (under {@code $PML4J_HOME}, default the working directory) at each of
 * {@code --pml-threads} once per round, after pml4j's measurements of that round; {@code --pml-json} adds earlier
 * JSON lines of that script. Ratios are against PML's best (lowest median ms) thread count per memory size. Before
 * round 1, {@code --jit-warmup-seconds} of untimed steps at the smallest memory and every thread setting let the JIT
 * compile the kernels first.
 */
public final class CbmStepBench {
  private CbmStepBench() {}

  /** Entry point; see the class comment for the arguments. */
  public static void main(String[] args) throws IOException {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --name value, got " + args[i]);
      }
      o.put(args[i].substring(2), args[i + 1]);
    }
    int[] memories = ints(o.getOrDefault("memory", "4096,16384,65536"));
    String[] threads = o.getOrDefault("threads", "1,2").split(",");
    int steps = Integer.parseInt(o.getOrDefault("steps", "15"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "3"));
    int rounds = Integer.parseInt(o.getOrDefault("rounds", "3"));
    int batch = Integer.parseInt(o.getOrDefault("batch", "256"));
    int dim = Integer.parseInt(o.getOrDefault("dim", "128"));
    int classes = Integer.parseInt(o.getOrDefault("classes", "10"));
    Map<String, List<Double>> pmlRuns = new LinkedHashMap<>();
    readPmlJson(o.get("pml-json"), pmlRuns);
    String pmlSrc = o.get("pml-src");
    Torch.ensureLoaded();
    System.out.printf(Locale.ROOT,
        "CbmStepBench: CrossBatchMemory(ContrastiveLoss) fwd+bwd, batch %d, dim %d, %d classes;"
        + " median of %d steps after %d warm-up, %d rounds; load average at start %s%n", batch, dim, classes, steps,
        warmup, rounds, loadAverage());
    // The JVM's first seconds: the JIT compiles the fused kernel (and its 2-thread paths) on the second core, which
    // made round 1's first 2-thread figure slower than 1 thread. Untimed steps at every thread setting first.
    double jitWarmUp = Double.parseDouble(o.getOrDefault("jit-warmup-seconds", "2"));
    int smallest = java.util.Arrays.stream(memories).min().orElse(batch);
    for (String t : threads) {
      setThreads(t);
      long until = System.nanoTime() + (long) (jitWarmUp * 1e9);
      while (System.nanoTime() < until) {
        stepMs(smallest, batch, dim, classes, 3, 1);
      }
    }
    Map<String, List<Double>> gflopsRuns = new LinkedHashMap<>();
    Map<String, List<Double>> results = new LinkedHashMap<>();
    Map<String, List<Double>> cpu = new LinkedHashMap<>();
    for (int r = 1; r <= rounds; r++) {
      for (int m : memories) {
        // rotate the order of thread settings per round
        for (int k = 0; k < threads.length; k++) {
          String t = threads[(k + r - 1) % threads.length];
          setThreads(t);
          double gf = matmulGflops();
          gflopsRuns.computeIfAbsent(t, x -> new ArrayList<>()).add(gf);
          double[] ms = stepMs(m, batch, dim, classes, steps, warmup);
          results.computeIfAbsent(m + "|" + t, x -> new ArrayList<>()).add(ms[0]);
          cpu.computeIfAbsent(m + "|" + t, x -> new ArrayList<>()).add(ms[1]);
          System.out.printf(Locale.ROOT, "round %d  memory %6d  threads %-4s %8.1f ms/step  (process CPU %.1f ms/step;"
              + " matmul %.1f GFLOP/s)%n", r, m, t, ms[0], ms[1], gf);
        }
      }
      if (pmlSrc != null) {
        for (String pt : o.getOrDefault("pml-threads", "1,2").split(",")) {
          String line = runPml(pmlSrc, o.getOrDefault("pml-python", "/usr/bin/python3"), pt.trim(), memories, steps,
              warmup, batch, dim, classes);
          System.out.println("round " + r + "  PML: " + line);
          addPmlLine(line, pmlRuns);
        }
      }
    }
    Map<Integer, Double> pml = pmlBest(pmlRuns);
    Map<String, Double> gflops = new LinkedHashMap<>();
    gflopsRuns.forEach((t, v) -> gflops.put(t, median(v)));
    System.out.println();
    System.out.println("matmul 1024^3 GFLOP/s (median over the measurements beside the steps): " + gflops);
    System.out.printf(Locale.ROOT, "%-8s %-7s %9s %9s %9s %9s %9s %10s %9s%n", "memory", "threads", "ms/step", "cpu ms",
        "vs t=" + threads[0], "floor ms", "x floor", "PML best", "x PML");
    for (int m : memories) {
      double base = median(results.get(m + "|" + threads[0]));
      for (String t : threads) {
        double ms = median(results.get(m + "|" + t));
        double floor = 2.0 * 2.0 * batch * (double) m * dim / (gflops.get(t) * 1e9) * 1e3;
        Double p = pml.get(m);
        System.out.printf(Locale.ROOT, "%-8d %-7s %9.1f %9.1f %8.2fx %9.1f %8.2fx %10s %9s%n", m, t, ms,
            median(cpu.get(m + "|" + t)), base / ms, floor,
            ms / floor, p == null ? "-" : String.format(Locale.ROOT, "%.1f", p),
            p == null ? "-" : String.format(Locale.ROOT, "%.2fx", p / ms));
      }
    }
    System.out.println("load average at end " + loadAverage());
  }

  /**
   * Sets the thread counts: {@code N} through {@link Torch#setNumThreads(int)}; {@code A:B:K} ATen A, OpenBLAS B (on
   * pml4j's Java pool), pml4j kernels K; {@code A:B:K:own} the same with OpenBLAS's own pthreads.
   */
  static void setThreads(String spec) {
    if (spec.contains(":")) {
      String[] p = spec.split(":");
      Torch.setThreads(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]),
          !(p.length > 3 && p[3].equals("own")));
    } else {
      Torch.setNumThreads(Integer.parseInt(spec));
    }
  }

  /**
   * The median wall time and the mean process CPU time per step, in ms, of a CrossBatchMemory(ContrastiveLoss) of
   * {@code memory} slots, filled first.
   */
  static double[] stepMs(int memory, int batch, int dim, int classes, int steps, int warmup) {
    torch.manual_seed(0);
    CrossBatchMemory cbm = new CrossBatchMemory(new ContrastiveLoss(), dim, memory, null);
    double[] times = new double[steps];
    long cpu0 = 0;
    try (Scope outer = Scope.open()) {
      Tensor emb = torch.randn(batch, dim).requires_grad_(true);
      Tensor labels = torch.randint(classes, new long[] {batch});
      for (int i = 0; i < (memory + batch - 1) / batch; i++) {
        try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
          cbm.forward(torch.randn(batch, dim), torch.randint(classes, new long[] {batch}));
        }
      }
      for (int i = 0; i < warmup + steps; i++) {
        if (i == warmup) {
          cpu0 = processCpuNanos();
        }
        long t0 = System.nanoTime();
        try (Scope s = Scope.open()) {
          Tensor loss = cbm.forward(emb, labels);
          loss.backward();
          emb.grad().zero_();
        }
        long t1 = System.nanoTime();
        if (i >= warmup) {
          times[i - warmup] = (t1 - t0) / 1e6;
        }
      }
    }
    double cpuMs = (processCpuNanos() - cpu0) / 1e6 / steps;
    cbm.resetQueue();
    return new double[] {median(times), cpuMs};
  }

  /** GFLOP/s of a 1024^3 float32 matmul at the current thread setting (median of 10 after 3 warm-up). */
  static double matmulGflops() {
    try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
      Tensor a = torch.randn(1024, 1024);
      Tensor b = torch.randn(1024, 1024);
      double[] t = new double[10];
      for (int i = 0; i < 13; i++) {
        long t0 = System.nanoTime();
        a.mm(b).sum().item_float();
        if (i >= 3) {
          t[i - 3] = (System.nanoTime() - t0) / 1e9;
        }
      }
      return 2.0 * 1024 * 1024 * 1024 / median(t) / 1e9;
    }
  }

  /** Runs scripts/bench_cbm_pml.py once (PML 2.8.1 source under {@code pmlSrc}/src) and returns its JSON line. */
  private static String runPml(String pmlSrc, String python, String threads, int[] memories, int steps, int warmup,
      int batch, int dim, int classes) throws IOException {
    Path script = Path.of(System.getenv().getOrDefault("PML4J_HOME", "."), "scripts", "bench_cbm_pml.py");
    StringBuilder mem = new StringBuilder();
    for (int m : memories) {
      mem.append(mem.length() == 0 ? "" : ",").append(m);
    }
    ProcessBuilder pb = new ProcessBuilder(python, script.toString(), "--threads", threads, "--memory", mem.toString(),
        "--steps", String.valueOf(steps), "--warmup", String.valueOf(warmup), "--batch", String.valueOf(batch),
        "--dim", String.valueOf(dim), "--classes", String.valueOf(classes));
    pb.environment().put("PYTHONPATH", Path.of(pmlSrc, "src").toString());
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    try {
      if (p.waitFor() != 0) {
        throw new IOException("PML benchmark failed (exit " + p.exitValue() + "): " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    String last = "";
    for (String line : out.split("\n")) {
      if (line.trim().startsWith("{")) {
        last = line.trim();
      }
    }
    return last;
  }

  private static void readPmlJson(String files, Map<String, List<Double>> runs) throws IOException {
    if (files == null || files.isBlank()) {
      return;
    }
    for (String f : files.split(",")) {
      for (String line : Files.readAllLines(Path.of(f.trim()))) {
        if (line.trim().startsWith("{")) {
          addPmlLine(line, runs);
        }
      }
    }
  }

  private static void addPmlLine(String line, Map<String, List<Double>> runs) throws IOException {
    JsonNode n = new ObjectMapper().readTree(line);
    int t = n.get("threads").asInt();
    n.get("ms").fields().forEachRemaining(e -> runs.computeIfAbsent(e.getKey() + "|" + t,
        k -> new ArrayList<>()).add(e.getValue().asDouble()));
  }

  /** PML's median per (memory, threads), and the best (lowest) over thread counts per memory. */
  private static Map<Integer, Double> pmlBest(Map<String, List<Double>> runs) {
    Map<Integer, Double> best = new LinkedHashMap<>();
    for (Map.Entry<String, List<Double>> e : runs.entrySet()) {
      int m = Integer.parseInt(e.getKey().split("\\|")[0]);
      double med = median(e.getValue());
      System.out.printf(Locale.ROOT, "PML memory %d threads %s: %s -> median %.1f ms%n", m, e.getKey().split("\\|")[1],
          e.getValue(), med);
      best.merge(m, med, Math::min);
    }
    return best;
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "?";
    }
  }

  static int[] ints(String csv) {
    return Arrays.stream(csv.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
  }

  static double median(List<Double> v) {
    return median(v.stream().mapToDouble(Double::doubleValue).toArray());
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
}
