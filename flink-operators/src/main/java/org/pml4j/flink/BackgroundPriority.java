package org.pml4j.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The Linux scheduling priority of a background thread that must only use CPU the task threads leave idle (the
 * {@link RetrievalEvaluator}'s scoring thread; job key {@code evaluator_priority}).
 *
 * <p>Why: on a TaskManager with few cores, a background thread at the task threads' priority takes an equal share of
 * a core from them whenever more threads are runnable than there are cores. The evaluator's exact k-NN (seconds of
 * CPU per model version) did exactly that to the trainer in the default job on 2 cores.
 *
 * <ul>
 *   <li>{@link #IDLE} (the default): the {@code SCHED_IDLE} policy plus nice 19. The kernel runs the thread only on a
 *       CPU that no normal thread wants and preempts it as soon as one wakes up (a JIT compiler thread, the source,
 *       the embed operator), so the trainer is neither preempted by it nor kept waiting for the other core. On a
 *       saturated TaskManager evaluations then lag behind (mode {@code latest} skips to the newest version when it
 *       gets CPU again).
 *   <li>{@link #LOW}: nice 19 only. The fair scheduler weighs the thread 15 against 1024 for a nice-0 thread: it
 *       still gets about 1.5 % of a busy core, and it is not preempted at once when a task thread wakes up.
 *   <li>{@link #NORMAL}: the thread keeps the task threads' priority (evaluations keep pace, training shares the CPU
 *       with them).
 * </ul>
 *
 * <p>Linux only; elsewhere every level behaves as {@code NORMAL} and says so in the log. Java has no API for a
 * thread's scheduling ({@link Thread#setPriority} is ignored by HotSpot on Linux unless the whole JVM runs with
 * {@code -XX:ThreadPriorityPolicy=1} as root), so the thread reads its kernel thread id from
 * {@code /proc/thread-self} and runs util-linux's {@code renice} and {@code chrt} on it (a thread id names that one
 * thread). Lowering a thread's priority needs no privilege. The result is read back from
 * {@code /proc/self/task/TID/stat}; a failure is logged and never fails the job.
 */
public enum BackgroundPriority {
  /** {@code SCHED_IDLE} and nice 19: only CPU that no normal thread wants (the default). */
  IDLE,
  /** Nice 19 under the normal policy. */
  LOW,
  /** Unchanged: the priority of the task threads. */
  NORMAL;

  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(BackgroundPriority.class);
  /** The lowest nice value. */
  static final int LOWEST_NICE = 19;
  /** Linux's {@code SCHED_IDLE} policy number (field 41 of {@code /proc/.../stat}). */
  static final int SCHED_IDLE = 5;

  /**
   * Parses {@code idle}, {@code low} or {@code normal} (any case).
   *
   * @throws IllegalArgumentException naming the key {@code evaluator_priority} and the valid values
   */
  public static BackgroundPriority parse(String s) {
    if (s != null) {
      for (BackgroundPriority p : values()) {
        if (p.name().equals(s.trim().toUpperCase(Locale.ROOT))) {
          return p;
        }
      }
    }
    throw new IllegalArgumentException("evaluator_priority must be one of idle, low, normal; got " + s);
  }

  /**
   * Gives the calling thread this priority (best effort: a failure is logged, never thrown; the thread then keeps
   * its normal priority).
   *
   * @return whether the kernel now reports the requested nice value and policy for the thread ({@code NORMAL}:
   *     false, nothing is changed)
   */
  boolean applyToCurrentThread() {
    if (this == NORMAL) {
      return false;
    }
    String thread = Thread.currentThread().getName();
    OptionalLong tid = currentTid();
    if (tid.isEmpty()) {
      LOGGER.info("pml4j: no /proc/thread-self (not Linux): thread '{}' keeps its priority", thread);
      return false;
    }
    String id = Long.toString(tid.getAsLong());
    String failed = run(List.of("renice", "-n", Integer.toString(LOWEST_NICE), "-p", id));
    if (failed == null && this == IDLE) {
      failed = run(List.of("chrt", "--idle", "-p", "0", id));
    }
    OptionalInt nice = niceOf(tid.getAsLong());
    OptionalInt policy = policyOf(tid.getAsLong());
    boolean ok = nice.isPresent() && nice.getAsInt() == LOWEST_NICE
        && (this != IDLE || (policy.isPresent() && policy.getAsInt() == SCHED_IDLE));
    if (!ok) {
      LOGGER.warn("pml4j: could not give thread '{}' priority {} ({}); it runs at nice {}, policy {}", thread, this,
          failed == null ? "the kernel reports otherwise" : failed, nice.isPresent() ? nice.getAsInt() : "?",
          policy.isPresent() ? policy.getAsInt() : "?");
    }
    return ok;
  }

  /** Runs a command; null when it exits 0, else what went wrong. */
  private static String run(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return command.get(0) + " did not finish";
      }
      return p.exitValue() == 0 ? null : command.get(0) + " exit " + p.exitValue() + ": " + out;
    } catch (IOException e) {
      return "cannot run " + command.get(0) + ": " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  /**
   * A factory of daemon threads named {@code name} that give themselves this priority when they start (see
   * {@link #applyToCurrentThread}).
   */
  ThreadFactory daemonThreads(String name) {
    return r -> {
      Thread t = new Thread(() -> {
        if (applyToCurrentThread()) {
          LOGGER.info("pml4j: thread '{}' runs at priority {} (it uses the CPU that the task threads leave idle)",
              name, this);
        }
        r.run();
      }, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** The kernel thread id of the calling thread (Linux), from the {@code /proc/thread-self -> PID/task/TID} link. */
  static OptionalLong currentTid() {
    try {
      Path link = Files.readSymbolicLink(Path.of("/proc/thread-self"));
      return OptionalLong.of(Long.parseLong(link.getFileName().toString()));
    } catch (IOException | UnsupportedOperationException | NumberFormatException | SecurityException e) {
      return OptionalLong.empty();
    }
  }

  /** The nice value of thread {@code tid} of this process (field 19 of {@code /proc/self/task/TID/stat}). */
  static OptionalInt niceOf(long tid) {
    return statField(tid, 19);
  }

  /** The scheduling policy of thread {@code tid} of this process (field 41; 0 normal, 5 {@code SCHED_IDLE}). */
  static OptionalInt policyOf(long tid) {
    return statField(tid, 41);
  }

  private static OptionalInt statField(long tid, int field) {
    try {
      String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
      // the command name (field 2) is in parentheses and may contain spaces: count the fields after the last ')'
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
      return OptionalInt.of(Integer.parseInt(f[field - 3]));
    } catch (IOException | RuntimeException e) {
      return OptionalInt.empty();
    }
  }
}
