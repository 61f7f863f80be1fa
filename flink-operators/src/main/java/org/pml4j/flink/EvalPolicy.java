package org.pml4j.flink;

import java.io.Serializable;
import java.util.Objects;
import java.util.concurrent.ThreadFactory;

/**
 * The streaming evaluator's scheduling policy, apart from the operator ({@link RetrievalEvaluator}) that follows it:
 * which model versions it scores ({@link Mode}, job key {@code evaluate}), the priority of its scoring thread
 * ({@link BackgroundPriority}, job key {@code evaluator_priority}) and the share of one core it may use while the
 * input runs ({@code cpuShare}, job key {@code evaluator_cpu_share}).
 *
 * <p>The CPU share: after an evaluation of {@code c} CPU-seconds the next starts no sooner than
 * {@code c * (1 / cpuShare - 1)} seconds later ({@link #pauseNanos}); at the end of the input the waiting versions are
 * scored without pause. (Priority alone does not bound the evaluator's CPU: an {@link BackgroundPriority#IDLE} thread
 * still takes every idle CPU.) The versions waiting under a mode are kept by an {@link EvalQueue}.
 *
 * @param mode which versions are scored
 * @param priority the scoring thread's scheduling priority
 * @param cpuShare the share of one core, in (0, 1]
 */
public record EvalPolicy(Mode mode, BackgroundPriority priority, double cpuShare) implements Serializable {
  /**
   * Default share of one core for evaluations while the input runs: the evaluator pauses as long as its last
   * evaluation took CPU, so exact k-NN over the held-out set costs at most half a core however long the stream runs.
   */
  public static final double DEFAULT_CPU_SHARE = 0.5;

  /** The default policy: {@link Mode#LATEST}, {@link BackgroundPriority#IDLE}, {@value #DEFAULT_CPU_SHARE}. */
  public static final EvalPolicy DEFAULT = new EvalPolicy(Mode.LATEST, BackgroundPriority.IDLE, DEFAULT_CPU_SHARE);

  /** Which model versions the evaluator scores. */
  public enum Mode {
    /** The newest version whenever the evaluator is free (plus version 0 and the final version). */
    LATEST,
    /** Every version, in order. */
    EVERY,
    /** No evaluation: the job has no evaluator (for pipelines that measure quality elsewhere, and benchmarks). */
    NONE;

    /**
     * {@code latest}, {@code every} or {@code none} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the key {@code evaluate} and the valid values
     */
    public static Mode parse(String s) {
      for (Mode m : values()) {
        if (m.name().equalsIgnoreCase(s == null ? "" : s.trim())) {
          return m;
        }
      }
      throw new IllegalArgumentException("evaluate must be 'latest', 'every' or 'none', got '" + s + "'");
    }
  }

  /**
   * @throws NullPointerException for a null mode or priority
   * @throws IllegalArgumentException for a share outside (0, 1]
   */
  public EvalPolicy {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(priority, "priority");
    checkCpuShare(cpuShare);
  }

  /** {@code mode} with the default priority and CPU share. */
  public static EvalPolicy of(Mode mode) {
    return new EvalPolicy(mode, DEFAULT.priority, DEFAULT.cpuShare);
  }

  /**
   * The policy of the job keys {@code evaluate}, {@code evaluator_priority} and {@code evaluator_cpu_share}.
   *
   * @throws IllegalArgumentException naming the key whose value is invalid
   */
  public static EvalPolicy of(String evaluate, String priority, double cpuShare) {
    return new EvalPolicy(Mode.parse(evaluate), BackgroundPriority.parse(priority), cpuShare);
  }

  /**
   * @return {@code share} when it is in (0, 1]
   * @throws IllegalArgumentException naming the key {@code evaluator_cpu_share} otherwise
   */
  public static double checkCpuShare(double share) {
    if (!(share > 0 && share <= 1)) {
      throw new IllegalArgumentException("evaluator_cpu_share must be in (0, 1] (a share of one core), got " + share);
    }
    return share;
  }

  /** The pause after an evaluation that took {@code cpuNanos} of CPU: {@code cpuNanos * (1 / cpuShare - 1)}. */
  public long pauseNanos(long cpuNanos) {
    return (long) (cpuNanos * (1 / cpuShare - 1));
  }

  /** Daemon threads named {@code name} that run at {@link #priority} (see {@link BackgroundPriority}). */
  ThreadFactory threads(String name) {
    return priority.daemonThreads(name);
  }
}
