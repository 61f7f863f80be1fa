package org.pml4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.data.LabeledDataset;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.Epochs;
import org.pml4j.train.RetrievalEval;
import org.pml4j.train.StepPhases;
import org.pml4j.train.StepPhases.Phase;
import org.pml4j.train.StepResult;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;
import org.pml4j.train.TrainingEngine;

/**
 * The harness behind {@code pml4j bench}: for each {@link BenchConfig}, (a) loss + miner forward and backward on
 * fixed random normalized {@code batch × embedding} embeddings (steps/s after warm-up), (b) one epoch of training the
 * MLP encoder with Adam through the same {@link Epochs} loop as {@code pml4j train} (steps/s over the epoch, split by
 * phase with {@link StepPhases}), (c) precision_at_1 and MAP@R of the trained encoder on the test split
 * ({@link RetrievalEval}, test against test without the self match). Before that it picks the thread count (1 or 2
 * ATen/OpenBLAS threads, see {@link #probeThreads}) unless one is given, and evaluates the untrained encoder once.
 * Ratios are against a {@link Baseline}: PML measured on this machine ({@link Baseline#fromPmlJson}) or, flagged as
 * such in the output, the figures recorded on another machine ({@link Baseline#recorded()}).
 *
 * <p>Single-threaded use only (LibTorch's thread settings are per thread).
 */
public final class Bench {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Training progress, for a progress bar. */
  public interface Progress {
    /** A config's epoch starts. */
    void start(String config, long totalSteps);

    /** A step finished. */
    void step(StepResult r);

    /** The epoch finished. */
    void finish(long steps);
  }

  /**
   * The loss benchmark of one config.
   *
   * @param steps timed steps
   * @param seconds their wall time
   * @param medianStepSeconds the median step
   * @param cpuSeconds CPU time of the process over the timed steps (NaN where unknown)
   * @param phases the timed steps by phase (miner, loss, backward, other)
   */
  public record LossBench(long steps, double seconds, double medianStepSeconds, double cpuSeconds,
      StepPhases phases) {
    /** Timed steps per second. */
    public double stepsPerSecond() {
      return steps / seconds;
    }
  }

  /**
   * One config's figures.
   *
   * @param config the config
   * @param loss the loss benchmark
   * @param train the epoch
   * @param trainCpuSeconds CPU time of the process over the epoch (NaN where unknown)
   * @param trainPhases the epoch's steps by phase
   * @param metrics precision_at_1 and mean_average_precision_at_r of the trained encoder
   * @param evalSeconds wall time of the evaluation
   */
  public record ConfigResult(BenchConfig config, LossBench loss, Epochs.Stats train, double trainCpuSeconds,
      StepPhases trainPhases, Map<String, Double> metrics, double evalSeconds) {}

  /**
   * The thread choice.
   *
   * @param threads the thread count used
   * @param measured whether it was measured (false: given)
   * @param secondsPerStep by thread count, by config: median training step seconds of the probe (empty when given)
   */
  public record ThreadChoice(int threads, boolean measured, Map<Integer, Map<String, Double>> secondsPerStep) {
    /** Per config, the 1-thread median step over the 2-thread one (above 1: 2 threads are faster); empty if given. */
    public Map<String, Double> speedup2Over1() {
      Map<String, Double> m = new LinkedHashMap<>();
      Map<String, Double> one = secondsPerStep.get(1);
      Map<String, Double> two = secondsPerStep.get(2);
      if (one != null && two != null) {
        one.forEach((k, v) -> {
          if (two.containsKey(k)) {
            m.put(k, v / two.get(k));
          }
        });
      }
      return m;
    }
  }

  /**
   * Everything a run measured.
   *
   * @param configs per config, in run order
   * @param untrained precision_at_1 and MAP@R of the untrained encoder
   * @param threads the thread choice
   * @param java the JVM's version
   * @param loadBefore {@code /proc/loadavg}'s 1/5/15-minute load at the start (empty when unreadable)
   * @param loadAfter ... at the end
   */
  public record Result(List<ConfigResult> configs, Map<String, Double> untrained, ThreadChoice threads, String java,
      String loadBefore, String loadAfter, Baseline baseline) {
    /** With the recorded baseline ({@link Baseline#recorded()}). */
    public Result(List<ConfigResult> configs, Map<String, Double> untrained, ThreadChoice threads, String java,
        String loadBefore, String loadAfter) {
      this(configs, untrained, threads, java, loadBefore, loadAfter, Baseline.recorded());
    }

    /**
     * {@code {"configs": {name: {loss_steps_per_sec, train_steps_per_sec, precision_at_1,
     * mean_average_precision_at_r}}, "pml_baseline": {name: {...}, "untrained": {precision_at_1,
     * mean_average_precision_at_r}}, "baseline": {kind: "measured"|"recorded", description, runs, configs: {name:
     * {loss, train}: the file and thread count each PML figure comes from}}, "ratios": {name: {loss_steps_per_sec,
     * train_steps_per_sec}}, "threads": T, "thread_probe": {"1": {name: ms}, "2": {...}, "speedup_2_over_1":
     * {name: x}} (only when the thread count was measured), "java": version}}; ratios are ours / PML's.
     */
    public ObjectNode toJson() {
      ObjectNode root = JSON.createObjectNode();
      ObjectNode cs = root.putObject("configs");
      ObjectNode ratios = JSON.createObjectNode();
      for (ConfigResult c : configs) {
        ObjectNode n = cs.putObject(c.config().name());
        n.put("loss_steps_per_sec", sig(c.loss().stepsPerSecond(), 4));
        n.put("train_steps_per_sec", sig(c.train().stepsPerSecond(), 4));
        n.put("precision_at_1", dec(c.metrics().get("precision_at_1"), 4));
        n.put("mean_average_precision_at_r", dec(c.metrics().get("mean_average_precision_at_r"), 4));
        Baseline.ConfigFigures pml = baseline.figures(c.config().name());
        ObjectNode r = ratios.putObject(c.config().name());
        r.put("loss_steps_per_sec", sig(c.loss().stepsPerSecond() / pml.lossStepsPerSec(), 3));
        r.put("train_steps_per_sec", sig(c.train().stepsPerSecond() / pml.trainStepsPerSec(), 3));
      }
      ObjectNode base = root.putObject("pml_baseline");
      baseline.configs().forEach((name, f) -> {
        ObjectNode n = base.putObject(name);
        n.put("loss_steps_per_sec", f.lossStepsPerSec());
        n.put("train_steps_per_sec", f.trainStepsPerSec());
        n.put("precision_at_1", f.precisionAt1());
        n.put("mean_average_precision_at_r", f.mapAtR());
      });
      ObjectNode u = base.putObject("untrained");
      u.put("precision_at_1", baseline.untrainedPrecisionAt1());
      u.put("mean_average_precision_at_r", baseline.untrainedMapAtR());
      root.set("baseline", baseline.toJson());
      root.set("ratios", ratios);
      root.put("threads", threads.threads());
      if (threads.measured()) {
        ObjectNode probe = root.putObject("thread_probe");
        threads.secondsPerStep().forEach((n, m) -> {
          ObjectNode t = probe.putObject(Integer.toString(n));
          m.forEach((k, v) -> t.put(k, sig(1e3 * v, 4)));
        });
        ObjectNode sp = probe.putObject("speedup_2_over_1");
        threads.speedup2Over1().forEach((k, v) -> sp.put(k, sig(v, 3)));
      }
      root.put("java", java);
      return root;
    }
  }

  private final BenchOptions o;
  private final PrintWriter log;
  private final Progress progress;
  private final Baseline baseline;

  /**
   * Against the recorded PML figures ({@link Baseline#recorded()}).
   *
   * @param options sizes and timing
   * @param log where the human-readable lines go (null: nowhere)
   * @param progress training progress (null: none)
   */
  public Bench(BenchOptions options, PrintWriter log, Progress progress) {
    this(options, log, progress, Baseline.recorded());
  }

  /**
   * @param options sizes and timing
   * @param log where the human-readable lines go (null: nowhere)
   * @param progress training progress (null: none)
   * @param baseline the PML figures to compare with ({@link Baseline#fromPmlJson} for a side-by-side run)
   */
  public Bench(BenchOptions options, PrintWriter log, Progress progress, Baseline baseline) {
    this.o = Objects.requireNonNull(options, "options");
    this.log = log;
    this.progress = progress;
    this.baseline = Objects.requireNonNull(baseline, "baseline");
  }

  /**
   * Runs the named configs.
   *
   * @param configNames subset of {@link BenchConfig#NAMES}, run in the given order
   * @param train training split (one epoch)
   * @param test evaluation split (queries against itself)
   * @throws IllegalArgumentException for an unknown config, or data the encoder cannot take
   */
  public Result run(List<String> configNames, LabeledDataset train, LabeledDataset test) {
    List<BenchConfig> configs = new ArrayList<>();
    for (String n : configNames) {
      configs.add(BenchConfig.named(n, o.memorySize()));
      baseline.figures(n);
    }
    if (configs.isEmpty()) {
      throw new IllegalArgumentException("no config to run");
    }
    if (train.size() < o.batchSize()) {
      throw new IllegalArgumentException("the training split has " + train.size() + " rows, fewer than one batch of "
          + o.batchSize());
    }
    if (train.numFeatures() != test.numFeatures()) {
      throw new IllegalArgumentException("train has " + train.numFeatures() + " features per row, test "
          + test.numFeatures());
    }
    String loadBefore = loadAverage();
    JsonNode encoder = Trainers.defaultEncoder(train.numFeatures(), o.hidden(), o.embedding());
    say("pml4j bench: %s, %s; MLP %d-%d-%d (ReLU, L2-normalized), batch %d, Adam lr 1e-3, 1 epoch; seed %d",
        describe(train), describe(test), train.numFeatures(), o.hidden(), o.embedding(), o.batchSize(), o.seed());
    say("load average at start: %s (%d cores seen by the JVM; the machine is shared)", loadBefore,
        Runtime.getRuntime().availableProcessors());
    say("%s", baseline.describe());
    for (String m : baseline.mismatches(o.batchSize(), o.embedding(), train.size())) {
      say("WARNING: not the same workload as the PML baseline: %s", m);
    }

    ThreadChoice threads = o.threads() > 0 ? new ThreadChoice(o.threads(), false, Map.of())
        : probeThreads(configs, encoder, train);
    Torch.setNumThreads(threads.threads());
    if (!threads.measured()) {
      say("threads: %d ATen + OpenBLAS (given)", threads.threads());
    }

    Map<String, Double> untrained;
    try (BaseTrainer t = Trainers.fromConfig(configs.get(0).trainerConfig(encoder, o.seed()))) {
      untrained = RetrievalEval.evaluate(t.encoder(), test);
    }
    say("untrained encoder: precision_at_1 %.4f, MAP@R %.4f (PML: %.3f, %.3f)", untrained.get("precision_at_1"),
        untrained.get("mean_average_precision_at_r"), baseline.untrainedPrecisionAt1(), baseline.untrainedMapAtR());

    int classes = train.classes().length;
    List<ConfigResult> results = new ArrayList<>();
    for (BenchConfig c : configs) {
      TrainerConfig tc = c.trainerConfig(encoder, o.seed());
      Baseline.ConfigFigures pml = baseline.figures(c.name());
      say("%s: %s", c.name(), c.description());
      LossBench lb = lossBench(tc, Math.max(classes, 2));
      say("  (a) loss+miner fwd+bwd: %.3f steps/s (%d steps in %.1f s, median step %.1f ms) = %.2fx PML's %.2f [%s];%n"
          + "      %.2f steps per CPU-second (the process ran %.0f%% of the wall time)", lb.stepsPerSecond(),
          lb.steps(), lb.seconds(), 1e3 * lb.medianStepSeconds(), lb.stepsPerSecond() / pml.lossStepsPerSec(),
          pml.lossStepsPerSec(), pml.lossSource().describe(), lb.steps() / lb.cpuSeconds(),
          100 * lb.cpuSeconds() / lb.seconds());
      say("      per step, wall/CPU ms (share of CPU): %s", phases(lb.phases(), false));

      ConfigResult r;
      BaseTrainer t = Trainers.fromConfig(tc);
      try (TrainingEngine engine = new TrainingEngine(t, TrainingEngine.Settings.batchesOnly(o.batchSize()), null)) {
        List<int[]> batches = Epochs.batches(train.size(), null, o.batchSize(), t.random());
        StepPhases ph = new StepPhases();
        t.setPhaseTimes(ph);
        if (progress != null) {
          progress.start(c.name(), batches.size());
        }
        double c0 = processCpuSeconds();
        Epochs.Stats st = Epochs.run(engine, train, batches, progress == null ? null : progress::step);
        double cpu = processCpuSeconds() - c0;
        if (progress != null) {
          progress.finish(t.steps());
        }
        t.setPhaseTimes(null);
        say("  (b) training: %.3f steps/s (%d steps in %.1f s, mean loss %.4f, last %.4f) = %.2fx PML's %.2f [%s];%n"
            + "      %.2f steps per CPU-second (the process ran %.0f%% of the wall time)", st.stepsPerSecond(),
            st.steps(), st.seconds(), st.meanLoss(), st.lastLoss(), st.stepsPerSecond() / pml.trainStepsPerSec(),
            pml.trainStepsPerSec(), pml.trainSource().describe(), st.steps() / cpu, 100 * cpu / st.seconds());
        say("      per step, wall/CPU ms (share of CPU): %s", phases(ph, true));
        long e0 = System.nanoTime();
        Map<String, Double> m = RetrievalEval.evaluate(t.encoder(), test);
        double evalSeconds = (System.nanoTime() - e0) / 1e9;
        say("  (c) test retrieval: precision_at_1 %.4f (PML %.3f, %+.4f), MAP@R %.4f (PML %.3f, %+.4f) [%.1f s]",
            m.get("precision_at_1"), pml.precisionAt1(), m.get("precision_at_1") - pml.precisionAt1(),
            m.get("mean_average_precision_at_r"), pml.mapAtR(), m.get("mean_average_precision_at_r") - pml.mapAtR(),
            evalSeconds);
        r = new ConfigResult(c, lb, st, cpu, ph, m, evalSeconds);
      }
      results.add(r);
    }
    String loadAfter = loadAverage();
    say("load average at end: %s", loadAfter);
    say("%s", baseline.describe());
    return new Result(results, untrained, threads, System.getProperty("java.version"), loadBefore, loadAfter,
        baseline);
  }

  /**
   * The loss benchmark: fixed random normalized {@code batch × embedding} float32 embeddings with labels drawn
   * uniformly from {@code classes}; each step runs the trainer's miner + loss (or its CrossBatchMemory, which
   * enqueues the batch) on a fresh leaf view of the embeddings and back-propagates to it. The warm-up fills the
   * memory; then it is timed until {@code lossSeconds} and {@code lossMinSteps} are both reached.
   */
  LossBench lossBench(TrainerConfig tc, int classes) {
    Random rng = new Random(o.seed() + 1);
    float[][] emb = new float[o.batchSize()][o.embedding()];
    long[] labels = new long[o.batchSize()];
    for (int i = 0; i < emb.length; i++) {
      double norm = 0;
      for (int j = 0; j < emb[i].length; j++) {
        emb[i][j] = (float) rng.nextGaussian();
        norm += emb[i][j] * (double) emb[i][j];
      }
      norm = Math.sqrt(norm);
      for (int j = 0; j < emb[i].length; j++) {
        emb[i][j] /= norm;
      }
      labels[i] = rng.nextInt(classes);
    }
    try (BaseTrainer t = Trainers.fromConfig(tc); Scope outer = Scope.open()) {
      Tensor base = Tensors.floats(emb);
      Tensor y = Tensors.longs(labels);
      StepPhases ph = new StepPhases();
      t.setPhaseTimes(ph);
      int warm = o.lossWarmup() + (tc.memorySize() > 0 ? o.memoryFillSteps() : 0);
      for (int i = 0; i < warm; i++) {
        lossStep(t, base, y, ph);
      }
      ph.reset();
      List<Double> stepSeconds = new ArrayList<>();
      double c0 = processCpuSeconds();
      long t0 = System.nanoTime();
      double elapsed = 0;
      while (elapsed < o.lossSeconds() || stepSeconds.size() < o.lossMinSteps()) {
        long s0 = System.nanoTime();
        lossStep(t, base, y, ph);
        long s1 = System.nanoTime();
        stepSeconds.add((s1 - s0) / 1e9);
        elapsed = (s1 - t0) / 1e9;
      }
      double cpu = processCpuSeconds() - c0;
      t.setPhaseTimes(null);
      return new LossBench(stepSeconds.size(), elapsed, median(stepSeconds), cpu, ph);
    }
  }

  private static void lossStep(BaseTrainer t, Tensor base, Tensor y, StepPhases ph) {
    ph.start();
    try (Scope s = Scope.open()) {
      Tensor e = base.detach().requires_grad_(true);
      ph.mark(Phase.OTHER);
      Tensor l = t.metricLoss(e, y);
      l.backward();
      ph.mark(Phase.BACKWARD);
    }
    ph.mark(Phase.OTHER);
    ph.stepDone();
  }

  /**
   * Seconds of training steps per config and thread count before the thread probe times anything (at most the
   * options' loss-timing seconds, so tiny test runs stay tiny).
   */
  static final double PROBE_WARM_UP_SECONDS = 1.5;

  /**
   * Picks 1 or 2 ATen/OpenBLAS threads: per thread count, the median of training steps of each config (on a
   * throw-away trainer per config, its CrossBatchMemory filled first, then up to {@link #PROBE_WARM_UP_SECONDS} of
   * steps at each count), two interleaved rounds of {@code probeSteps} steps each; the count with the smaller
   * geometric mean of the configs' medians wins.
   */
  ThreadChoice probeThreads(List<BenchConfig> configs, JsonNode encoder, LabeledDataset train) {
    int[] counts = {1, 2};
    List<int[]> batches = Epochs.batches(train.size(), null, o.batchSize(), new Random(o.seed() + 2));
    Map<Integer, Map<String, List<Double>>> times = new LinkedHashMap<>();
    for (int n : counts) {
      times.put(n, new LinkedHashMap<>());
    }
    List<TrainingEngine> trainers = new ArrayList<>();
    try {
      Torch.setNumThreads(1);
      int next = 0;
      for (BenchConfig c : configs) {
        TrainingEngine t = new TrainingEngine(Trainers.fromConfig(c.trainerConfig(encoder, o.seed())),
            TrainingEngine.Settings.batchesOnly(o.batchSize()), null);
        trainers.add(t);
        int warm = 1 + (c.memorySize() > 0 ? o.memoryFillSteps() : 0);
        for (int i = 0; i < warm; i++) {
          next = step(t, train, batches, next);
        }
      }
      // Warm up at both counts before timing: the JIT compiles pml4j's Java kernels (and their 2-thread paths) during
      // the first seconds of the process, and a compiler thread on the second core made 2 threads look slower than 1.
      for (int n : counts) {
        Torch.setNumThreads(n);
        for (TrainingEngine t : trainers) {
          long until = System.nanoTime() + (long) (Math.min(PROBE_WARM_UP_SECONDS, o.lossSeconds()) * 1e9);
          while (System.nanoTime() < until) {
            next = step(t, train, batches, next);
          }
        }
      }
      for (int round = 0; round < 2; round++) {
        for (int k = 0; k < counts.length; k++) {
          int n = counts[round % 2 == 0 ? k : counts.length - 1 - k];
          Torch.setNumThreads(n);
          for (int ci = 0; ci < configs.size(); ci++) {
            TrainingEngine t = trainers.get(ci);
            next = step(t, train, batches, next); // settle the pools at this count
            List<Double> l = times.get(n).computeIfAbsent(configs.get(ci).name(), x -> new ArrayList<>());
            for (int i = 0; i < o.probeSteps(); i++) {
              long s0 = System.nanoTime();
              next = step(t, train, batches, next);
              l.add((System.nanoTime() - s0) / 1e9);
            }
          }
        }
      }
    } finally {
      trainers.forEach(TrainingEngine::close);
    }
    Map<Integer, Map<String, Double>> med = new LinkedHashMap<>();
    int best = counts[0];
    double bestScore = Double.POSITIVE_INFINITY;
    for (int n : counts) {
      Map<String, Double> m = new LinkedHashMap<>();
      double logSum = 0;
      for (Map.Entry<String, List<Double>> e : times.get(n).entrySet()) {
        double v = median(e.getValue());
        m.put(e.getKey(), v);
        logSum += Math.log(v);
      }
      med.put(n, m);
      if (logSum < bestScore) {
        bestScore = logSum;
        best = n;
      }
    }
    StringBuilder b = new StringBuilder();
    for (int n : counts) {
      b.append(String.format(Locale.ROOT, "%n  %d thread%s:", n, n == 1 ? " " : "s"));
      med.get(n).forEach((k, v) -> b.append(String.format(Locale.ROOT, " %s %.1f ms/step", k, 1e3 * v)));
    }
    int other = best == 1 ? 2 : 1;
    double gain = Math.exp((geoLog(med.get(other)) - geoLog(med.get(best))) / Math.max(1, configs.size())) - 1;
    say("threads: probe of training steps (median of %d per config) with Torch.setNumThreads(1) and (2):%s%n"
        + "  using %d ATen + OpenBLAS thread%s: %.0f%% faster than %d", 2 * o.probeSteps(), b, best,
        best == 1 ? "" : "s", 100 * gain, other);
    ThreadChoice choice = new ThreadChoice(best, true, med);
    choice.speedup2Over1().forEach((k, v) -> {
      if (v < 1) {
        say("  WARNING: %s is %.0f%% SLOWER with 2 threads than with 1 (%.1f vs %.1f ms/step)", k, 100 * (1 / v - 1),
            1e3 * med.get(2).get(k), 1e3 * med.get(1).get(k));
      } else {
        say("  %s: 2 threads %.2fx the speed of 1", k, v);
      }
    });
    return choice;
  }

  private static double geoLog(Map<String, Double> m) {
    double s = 0;
    for (double v : m.values()) {
      s += Math.log(v);
    }
    return s;
  }

  private int step(TrainingEngine t, LabeledDataset train, List<int[]> batches, int next) {
    LabeledDataset b = train.select(batches.get(next % batches.size()));
    t.step(b.features(), b.labels());
    return next + 1;
  }

  /** {@code miner 28.9/7.0 ms (9%), ...}: per step wall/CPU milliseconds and the share of the CPU time. */
  static String phases(StepPhases p, boolean withEncoder) {
    StringBuilder b = new StringBuilder();
    double total = p.totalCpuSeconds();
    for (Phase ph : Phase.values()) {
      if (!withEncoder && (ph == Phase.ENCODER_FORWARD || ph == Phase.OPTIMIZER)) {
        continue;
      }
      if (b.length() > 0) {
        b.append(", ");
      }
      double s = p.seconds(ph);
      double c = p.cpuSeconds(ph);
      b.append(String.format(Locale.ROOT, "%s %.1f/%.1f (%.0f%%)", ph.label(), 1e3 * s / p.steps(),
          1e3 * c / p.steps(), total == 0 ? 0 : 100 * c / total));
    }
    return b.toString();
  }

  /** CPU seconds of the whole process so far, or NaN where the JVM does not tell. */
  static double processCpuSeconds() {
    java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean s) {
      long n = s.getProcessCpuTime();
      return n < 0 ? Double.NaN : n / 1e9;
    }
    return Double.NaN;
  }

  static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    int n = a.length;
    return n % 2 == 1 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
  }

  private static String describe(LabeledDataset d) {
    return d.name() + " (" + d.size() + " rows)";
  }

  /** {@code /proc/loadavg}'s three load averages, or "unknown". */
  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private void say(String fmt, Object... args) {
    if (log != null) {
      log.println(String.format(Locale.ROOT, fmt, args));
      log.flush();
    }
  }

  /** Rounded to {@code digits} significant digits. */
  static double sig(double v, int digits) {
    if (!Double.isFinite(v) || v == 0) {
      return v;
    }
    return new BigDecimal(v).round(new MathContext(digits)).doubleValue();
  }

  /** Rounded to {@code places} decimal places. */
  static double dec(double v, int places) {
    if (!Double.isFinite(v)) {
      return v;
    }
    return new BigDecimal(v).setScale(places, java.math.RoundingMode.HALF_EVEN).doubleValue();
  }
}
