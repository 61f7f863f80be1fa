package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The readiness gate of the generated queries ({@link ServingMarks}) on real files and Flink's rate limiter API: the
 * gate stays closed until every shard has marked, opens at the last mark, paces from then on, and opens after its
 * timeout when a shard never marks.
 */
class ServingMarksTest {
  @TempDir
  Path tmp;

  @Test
  void gateOpensOnlyOnceEveryShardServesThenPaces() throws Exception {
    ServingMarks marks = ServingMarks.fresh(tmp.toString(), 2, 0);
    assertTrue(marks.dir().startsWith(tmp.toUri().toString().replaceAll("/$", "") + "/retrieval-serving/"),
        marks.dir());
    RateLimiter<SourceSplit> gate = marks.pacing(50, 60_000).createRateLimiter(1);
    CompletableFuture<Void> first = gate.acquire().toCompletableFuture();
    Thread.sleep(300);
    assertFalse(first.isDone(), "no shard serves yet");
    marks.mark(0, 3, 10);
    Thread.sleep(300);
    assertFalse(first.isDone(), "shard 1 does not serve yet");
    assertFalse(marks.ready());
    marks.mark(1, 3, 12);
    first.get(5, TimeUnit.SECONDS);
    assertTrue(marks.ready());
    Path dir = Path.of(java.net.URI.create(marks.dir()));
    assertEquals("3 10", Files.readString(dir.resolve("shard-0")).trim());
    assertEquals("3 12", Files.readString(dir.resolve("shard-1")).trim());
    // Open: 50 per second from now on (Guava's limiter: the first permit at once, then one per 20 ms).
    long t0 = System.nanoTime();
    for (int i = 0; i < 11; i++) {
      gate.acquire().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms >= 180, "11 permits at 50/s took " + ms + " ms, not paced");
  }

  @Test
  void gateWaitingForTheCatalogOpensOnceTheShardsAppliedAllOfIt() throws Exception {
    ServingMarks marks = ServingMarks.fresh(tmp.toString(), 2, 100);
    assertTrue(marks.waitsForCatalog());
    RateLimiter<SourceSplit> gate = marks.pacing(0, 60_000).createRateLimiter(1);
    CompletableFuture<Void> first = gate.acquire().toCompletableFuture();
    marks.mark(0, 0, 40);
    marks.mark(1, 0, 30);
    Thread.sleep(300);
    assertFalse(first.isDone(), "both serve, but 70 of the 100 catalog records are applied");
    marks.mark(1, 0, 59);
    Thread.sleep(300);
    assertFalse(first.isDone(), "99 of 100");
    marks.mark(0, 0, 41);
    first.get(5, TimeUnit.SECONDS);
    assertTrue(marks.ready());
  }

  @Test
  void gateOpensAfterTheTimeoutWhenAShardNeverServes() throws Exception {
    ServingMarks marks = ServingMarks.fresh(tmp.toString(), 2, 0);
    marks.mark(1, 0, 0);
    long t0 = System.nanoTime();
    RateLimiter<SourceSplit> gate = marks.pacing(0, 400).createRateLimiter(1);
    gate.acquire().toCompletableFuture().get(10, TimeUnit.SECONDS);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms >= 400, "opened after " + ms + " ms, before its 400 ms timeout");
    assertFalse(marks.ready());
    // Unlimited after opening.
    assertTrue(gate.acquire().toCompletableFuture().isDone());
  }

  @Test
  void marksOfAnotherJobDoNotOpenTheGate() throws Exception {
    ServingMarks older = ServingMarks.fresh(tmp.toString(), 1, 0);
    older.mark(0, 5, 0);
    ServingMarks mine = ServingMarks.fresh(tmp.toString(), 1, 0);
    assertFalse(mine.ready(), "a fresh job's marks are its own");
    assertTrue(older.ready());
  }

  @Test
  void badArgumentsAreRejectedByName() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> ServingMarks.fresh(tmp.toString(), 0, 0))
        .getMessage().contains("shards"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> ServingMarks.fresh(tmp.toString(), 1, -1))
        .getMessage().contains("catalogRecords"));
    ServingMarks marks = ServingMarks.fresh(tmp.toString(), 2, 0);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> marks.mark(2, 0, 0)).getMessage().contains("shard"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> marks.pacing(10, 0)).getMessage()
        .contains("timeoutMillis"));
  }
}
