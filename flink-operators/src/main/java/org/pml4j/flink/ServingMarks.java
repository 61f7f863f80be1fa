package org.pml4j.flink;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.util.ratelimit.GuavaRateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;

/**
 * The retrieval index's readiness probe, as a load balancer uses one: each {@link RetrievalShard} writes a mark
 * {@code shard-<i>} ({@code "<version> <catalog records applied>"}) into a directory of the job's output when it first
 * serves a version, and the generated query source starts its pacing only once every shard's mark is there and, when
 * the job generates a catalog of a known size, the shards together have applied all of it ({@link #ready}: the
 * initial catalog is loaded, as a search service loads its index before it takes traffic; a shard rewrites its mark
 * every {@value #UPDATE_MILLIS} ms while its count changes), or after a timeout (then it starts anyway and says so in
 * the log). So the generated queries measure the serving index, not
 * the start-up; a query that arrives before a shard serves (a Kafka query, or any query after a restore) still waits
 * at the shard and is counted as having waited.
 *
 * <p>The directory is {@code DIR/retrieval-serving/<token>}, the token drawn when the job graph is built: a restored
 * attempt of the same job finds the marks of its first attempt (and its queries go on at once, as before), a new
 * submission into the same output directory does not see an older job's marks. Why files: the output directory is
 * the one place every TaskManager already shares (as for the trainer's {@link FileRendezvous}), the marks work the
 * same on the embedded MiniCluster and on a cluster, on any file system Flink writes the outputs to; Flink's own
 * channels cannot carry them (the queries flow into the shards, not out of them, and a feedback edge from the shards
 * to a source is not part of Flink's DataStream API).
 */
final class ServingMarks implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(ServingMarks.class);
  /** The marks' parent directory in the job's output directory. */
  static final String DIRECTORY = "retrieval-serving";
  /** How often the query source looks for the marks (on an object store, where each look is a request: 500 ms). */
  static final long POLL_MILLIS = 20;
  static final long OBJECT_STORE_POLL_MILLIS = 500;
  /** How often a serving shard rewrites its mark while its applied catalog count changes. */
  static final long UPDATE_MILLIS = 200;

  private final String dir;
  private final int shards;
  private final long catalogRecords;

  /**
   * @param dir the directory of the marks (a location for {@link OutputFileSystem})
   * @param shards the index parallelism: marks {@code shard-0 .. shard-(shards-1)}
   * @param catalogRecords catalog records the shards must have applied together before the gate opens (0: serving
   *     suffices)
   */
  ServingMarks(String dir, int shards, long catalogRecords) {
    if (shards < 1 || catalogRecords < 0) {
      throw new IllegalArgumentException("shards must be >= 1 and catalogRecords >= 0, got " + shards + ", "
          + catalogRecords);
    }
    this.dir = OutputFileSystem.uri(dir);
    this.shards = shards;
    this.catalogRecords = catalogRecords;
  }

  /** Fresh marks of a new job in {@code outputDir} ({@code DIR/retrieval-serving/<random token>}). */
  static ServingMarks fresh(String outputDir, int shards, long catalogRecords) {
    return new ServingMarks(OutputFileSystem.child(outputDir, DIRECTORY + "/" + UUID.randomUUID()), shards,
        catalogRecords);
  }

  /** Whether the gate also waits for the catalog (then shards keep their marks' counts up to date). */
  boolean waitsForCatalog() {
    return catalogRecords > 0;
  }

  /** The marks' directory. */
  String dir() {
    return dir;
  }

  /**
   * Shard {@code shard} serves {@code version} and has applied {@code catalogOps} catalog records; a failure to write
   * is logged (the source then runs into its timeout).
   */
  void mark(int shard, long version, long catalogOps) {
    if (shard < 0 || shard >= shards) {
      throw new IllegalArgumentException("shard must be in 0.." + (shards - 1) + ", got " + shard);
    }
    try {
      OutputFileSystem.writeAtomically(OutputFileSystem.child(dir, "shard-" + shard),
          (version + " " + catalogOps + "\n").getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      LOGGER.warn("retrieval shard {}: cannot write its serving mark in {}", shard, dir, e);
    }
  }

  /**
   * Whether every shard has marked and together they applied the catalog records the gate waits for (a missing or
   * unreadable mark counts as not yet).
   */
  boolean ready() {
    long applied = 0;
    try {
      for (int i = 0; i < shards; i++) {
        String location = OutputFileSystem.child(dir, "shard-" + i);
        if (!OutputFileSystem.exists(location)) {
          return false;
        }
        if (catalogRecords > 0) {
          String[] parts = new String(OutputFileSystem.read(OutputFileSystem.path(location)), StandardCharsets.UTF_8)
              .trim().split(" ");
          applied += parts.length == 2 ? Long.parseLong(parts[1]) : 0;
        }
      }
      return applied >= catalogRecords;
    } catch (IOException | NumberFormatException e) {
      LOGGER.debug("retrieval serving marks in {} not readable yet", dir, e);
      return false;
    }
  }

  /**
   * A source's rate limit that lets its first record through only once {@link #ready} (or {@code timeoutMillis}
   * after the reader started: then it logs a warning and goes on), and paces the records at {@code perSecond} (all
   * subtasks together; {@code <= 0}: unlimited) from then on. The waiting does not block the source's task thread
   * (the rate limiter's future does), so checkpoints go on meanwhile.
   *
   * @throws IllegalArgumentException when {@code timeoutMillis < 1}
   */
  RateLimiterStrategy<SourceSplit> pacing(double perSecond, long timeoutMillis) {
    if (timeoutMillis < 1) {
      throw new IllegalArgumentException("timeoutMillis must be >= 1, got " + timeoutMillis);
    }
    return parallelism -> new Gate(this, perSecond > 0 ? perSecond / parallelism : 0, timeoutMillis);
  }

  /** The rate limiter of {@link #pacing}: closed until the marks are there, then a Guava rate limit (or none). */
  private static final class Gate implements RateLimiter<SourceSplit> {
    private final CompletableFuture<Void> open = new CompletableFuture<>();
    private volatile RateLimiter<SourceSplit> pace;

    Gate(ServingMarks marks, double perSecond, long timeoutMillis) {
      ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pml4j-retrieval-serving-gate");
        t.setDaemon(true);
        return t;
      });
      long start = System.nanoTime();
      poller.scheduleWithFixedDelay(() -> {
        long waited = (System.nanoTime() - start) / 1_000_000;
        boolean ready = marks.ready();
        if (!ready && waited < timeoutMillis) {
          return;
        }
        if (ready) {
          LOGGER.info("retrieval queries start: all {} shards serve{} (waited {} ms)", marks.shards,
              marks.catalogRecords > 0 ? " and applied the " + marks.catalogRecords + " catalog records" : "", waited);
        } else {
          LOGGER.warn("retrieval queries start without every shard serving{}: not every one of the {} shards marked "
              + "so in {} within {} ms (the first queries may wait at the shards)",
              marks.catalogRecords > 0 ? " the whole catalog" : "", marks.shards, marks.dir, timeoutMillis);
        }
        // Created now, not at the start: a Guava limiter idle since then would let a burst of stored permits through.
        pace = perSecond > 0 ? new GuavaRateLimiter<>(perSecond) : permits -> CompletableFuture.completedFuture(null);
        open.complete(null);
        poller.shutdown();
      }, 0, OutputFileSystem.isObjectStore(OutputFileSystem.path(marks.dir)) ? OBJECT_STORE_POLL_MILLIS : POLL_MILLIS,
          TimeUnit.MILLISECONDS);
    }

    @Override
    public CompletionStage<Void> acquire(int numberOfEvents) {
      RateLimiter<SourceSplit> p = pace;
      return p == null ? open : p.acquire(numberOfEvents);
    }
  }
}
