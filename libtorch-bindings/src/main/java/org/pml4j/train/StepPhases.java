package org.pml4j.train;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Wall time (and the calling thread's CPU time) of a trainer's steps split by phase. Give one to
 * {@link BaseTrainer#setPhaseTimes(StepPhases)}: each {@code trainStep} (and each {@link BaseTrainer#metricLoss} call)
 * then adds the nanoseconds between consecutive phase boundaries to the phase that just ended. LibTorch's CPU kernels
 * are synchronous, so the split is exact on CPU; on CUDA it shows where the host waits. The CPU time is that of the
 * calling thread only: it is the whole work with one ATen/OpenBLAS thread, and tells how much of the wall time the
 * thread actually ran on a shared machine. Not thread-safe: one instance per trainer thread.
 */
public final class StepPhases {
  /** The phases of a step, in the order they run. */
  public enum Phase {
    /** Encoder forward pass. */
    ENCODER_FORWARD("encoder forward"),
    /** Miner forward (0 when there is none or it runs inside a CrossBatchMemory). */
    MINER("miner"),
    /** Loss forward (with a CrossBatchMemory: the enqueue, its miner and the loss). */
    LOSS("loss"),
    /** {@code backward()} through loss and encoder. */
    BACKWARD("backward"),
    /** {@code zero_grad} and the optimizer step. */
    OPTIMIZER("optimizer step"),
    /** Everything else: the input tensor, reading the loss value, freeing the step's tensors. */
    OTHER("other");

    private final String label;

    Phase(String label) {
      this.label = label;
    }

    /** A short human name. */
    public String label() {
      return label;
    }
  }

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private final long[] nanos = new long[Phase.values().length];
  private final long[] cpuNanos = new long[Phase.values().length];
  private final boolean cpu = THREADS.isCurrentThreadCpuTimeSupported();
  private long last;
  private long lastCpu;
  private long steps;

  /** Starts a step's clock (the trainer calls this; so does a caller timing {@code metricLoss} alone). */
  public void start() {
    last = System.nanoTime();
    lastCpu = cpu ? THREADS.getCurrentThreadCpuTime() : 0;
  }

  /** Adds the time since the previous boundary to {@code phase} and starts the next one. */
  public void mark(Phase phase) {
    long now = System.nanoTime();
    nanos[phase.ordinal()] += now - last;
    last = now;
    if (cpu) {
      long c = THREADS.getCurrentThreadCpuTime();
      cpuNanos[phase.ordinal()] += c - lastCpu;
      lastCpu = c;
    }
  }

  /** Counts a finished step (the trainer calls this). */
  public void stepDone() {
    steps++;
  }

  /** Steps recorded. */
  public long steps() {
    return steps;
  }

  /** Total seconds of one phase. */
  public double seconds(Phase p) {
    return nanos[p.ordinal()] / 1e9;
  }

  /** CPU seconds of the calling thread in one phase (0 where the JVM cannot measure thread CPU time). */
  public double cpuSeconds(Phase p) {
    return cpuNanos[p.ordinal()] / 1e9;
  }

  /** CPU seconds of the calling thread in all phases. */
  public double totalCpuSeconds() {
    long t = 0;
    for (long n : cpuNanos) {
      t += n;
    }
    return t / 1e9;
  }

  /** Total seconds of all phases. */
  public double totalSeconds() {
    long t = 0;
    for (long n : nanos) {
      t += n;
    }
    return t / 1e9;
  }

  /** Seconds per phase, in phase order. */
  public Map<Phase, Double> secondsByPhase() {
    Map<Phase, Double> m = new EnumMap<>(Phase.class);
    for (Phase p : Phase.values()) {
      m.put(p, seconds(p));
    }
    return m;
  }

  /** Forgets everything recorded. */
  public void reset() {
    java.util.Arrays.fill(nanos, 0);
    java.util.Arrays.fill(cpuNanos, 0);
    steps = 0;
  }

  /** {@code encoder forward 12.3 ms (40.1%), miner ...} per step. */
  @Override
  public String toString() {
    double total = totalSeconds();
    StringBuilder b = new StringBuilder();
    for (Phase p : Phase.values()) {
      if (b.length() > 0) {
        b.append(", ");
      }
      double s = seconds(p);
      b.append(String.format(Locale.ROOT, "%s %.1f ms (%.1f%%)", p.label(), steps == 0 ? 0 : 1e3 * s / steps,
          total == 0 ? 0 : 100 * s / total));
    }
    return b.append(" per step over ").append(steps).append(" steps").toString();
  }
}
