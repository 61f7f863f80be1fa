package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/** Two Gloo groups in one JVM (one thread per rank) over a TCPStore on loopback. */
class GlooCollectiveTest {
  private static Rendezvous at(int port, int rank, int world, long timeoutMs) {
    return new Rendezvous("127.0.0.1", port, rank, world, "test", Duration.ofMillis(timeoutMs));
  }

  @Test
  void collectivesAgreeAcrossTwoRanks() throws Exception {
    int port = Ranks.freePort();
    List<double[][]> results = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(at(port, rank, 2, 20000))) {
        assertEquals(rank, c.rank());
        assertEquals(2, c.worldSize());
        double base = 10 * (rank + 1);
        Tensor local = Tensors.of(new double[][] {{base, base + 1}, {base + 2, base + 3}}, ScalarType.Double);
        Tensor gathered = c.allGather(local);
        Tensor labels = c.allGather(Tensors.longs(rank, rank + 5));
        Tensor mask = c.allGather(Tensors.bools(rank == 0, true));
        Tensor sum = Tensors.of(new double[] {rank + 1.0, 2.0 * rank}, ScalarType.Double);
        c.allReduce(sum, Collective.Reduction.SUM);
        Tensor avg = Tensors.of(new double[] {rank + 1.0, 4.0 * rank}, ScalarType.Double);
        c.allReduce(avg, Collective.Reduction.AVG);
        Tensor bc = Tensors.of(new double[] {rank + 7.0, -rank}, ScalarType.Double);
        c.broadcast(bc);
        c.barrier();
        assertEquals(ScalarType.Bool, Tensors.dtype(mask));
        boolean[] m = Tensors.toBools(mask);
        return new double[][] {Tensors.toDoubles(gathered.flatten()),
            java.util.Arrays.stream(Tensors.toLongs(labels)).asDoubleStream().toArray(),
            {m[0] ? 1 : 0, m[1] ? 1 : 0, m[2] ? 1 : 0, m[3] ? 1 : 0}, Tensors.toDoubles(sum),
            Tensors.toDoubles(avg), Tensors.toDoubles(bc)};
      }
    });
    for (double[][] r : results) {
      assertArrayEquals(new double[] {10, 11, 12, 13, 20, 21, 22, 23}, r[0]);
      assertArrayEquals(new double[] {0, 5, 1, 6}, r[1]);
      assertArrayEquals(new double[] {1, 1, 0, 1}, r[2]);
      assertArrayEquals(new double[] {3, 2}, r[3]);
      assertArrayEquals(new double[] {1.5, 2}, r[4]);
      assertArrayEquals(new double[] {7, 0}, r[5]);
    }
  }

  @Test
  void rankZeroCanBindAnyFreePortAndPublishIt() throws Exception {
    java.util.concurrent.CompletableFuture<Integer> published = new java.util.concurrent.CompletableFuture<>();
    List<double[]> out = Ranks.run(2, 120, rank -> {
      int port = rank == 0 ? 0 : published.join();
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(at(port, rank, 2, 20000),
          rank == 0 ? published::complete : null)) {
        return Tensors.toDoubles(c.allGather(Tensors.of(new double[] {rank}, ScalarType.Double)));
      }
    });
    assertTrue(published.get() > 0, "published port " + published.get());
    assertArrayEquals(new double[] {0, 1}, out.get(0));
    assertArrayEquals(new double[] {0, 1}, out.get(1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> at(0, 1, 2, 1000));
    assertTrue(e.getMessage().contains("port 0"), e.getMessage());
  }

  @Test
  void aPeerThatNeverJoinsFailsTheRendezvousWithinTheTimeout() {
    int port = Ranks.freePort();
    long t0 = System.nanoTime();
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> GlooCollective.connect(at(port, 0, 2, 1500)));
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertTrue(seconds < 15, "took " + seconds + " s");
    assertTrue(e.getMessage().contains("rendezvous of rank 0 of 2"), e.getMessage());
  }

  @Test
  void aClientWithoutAStoreFailsWithinTheTimeout() {
    int port = Ranks.freePort();
    long t0 = System.nanoTime();
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> GlooCollective.connect(at(port, 1, 2, 1500)));
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertTrue(seconds < 15, "took " + seconds + " s");
    assertTrue(e.getMessage().contains("rendezvous of rank 1 of 2"), e.getMessage());
  }

  @Test
  void aPeerLostMidTrainingFailsTheCollectiveWithinTheTimeout() throws Exception {
    int port = Ranks.freePort();
    List<String> outcomes = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(at(port, rank, 2, 2000))) {
        Tensor t = Tensors.of(new double[] {1, 2, 3}, ScalarType.Double);
        c.allReduce(t, Collective.Reduction.SUM);
        if (rank == 1) {
          // rank 1 "dies": it stops taking part (but stays alive until rank 0 has given up)
          try {
            Thread.sleep(6000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return "gone";
        }
        long t0 = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> c.allReduce(t, Collective.Reduction.SUM));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 5.5, "took " + seconds + " s");
        assertTrue(e.getMessage().contains("all-reduce") && e.getMessage().contains("failed on rank 0 of 2"),
            e.getMessage());
        return "timed out";
      }
    });
    assertEquals(List.of("timed out", "gone"), outcomes);
  }

  @Test
  void badArgumentsAndClosedGroupsAreRefused() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> at(1234, 2, 2, 1000));
    assertThrows(IllegalArgumentException.class, () -> at(1234, -1, 2, 1000));
    assertThrows(IllegalArgumentException.class, () -> at(1234, 0, 0, 1000));
    assertThrows(IllegalArgumentException.class, () -> at(-1, 0, 2, 1000));
    assertThrows(IllegalArgumentException.class, () -> at(1234, 0, 2, 0));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Rendezvous("127.0.0.1", 1234, 0, 2, "", Duration.ofSeconds(1)));
    assertTrue(e.getMessage().startsWith("prefix"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Collectives.connect(at(1234, 0, 1, 1000), "tpu"));
    assertThrows(IllegalArgumentException.class, () -> GlooCollective.connect(null));

    int port = Ranks.freePort();
    Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open()) {
        Collective c = GlooCollective.connect(at(port, rank, 2, 10000));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> c.allGather(null));
        assertTrue(bad.getMessage().startsWith("local"), bad.getMessage());
        assertThrows(IllegalArgumentException.class,
            () -> c.allGather(Tensors.of(new double[] {1}, ScalarType.Double).sum()));
        Tensor longs = Tensors.longs(1, 2);
        assertThrows(IllegalArgumentException.class, () -> c.allReduce(longs, Collective.Reduction.AVG));
        Tensor strided = Tensors.of(new double[][] {{1, 2}, {3, 4}}, ScalarType.Double).t();
        assertThrows(IllegalArgumentException.class, () -> c.broadcast(strided));
        c.barrier();
        c.close();
        c.close();
        IllegalStateException closed = assertThrows(IllegalStateException.class, c::barrier);
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        return null;
      }
    });
  }

  @Test
  void ranksThatDisagreeOnTheCollectiveGetAnExceptionNotAnAbort() throws Exception {
    int port = Ranks.freePort();
    List<String> messages = Ranks.run(2, 120, rank -> {
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(at(port, rank, 2, 10000))) {
        Tensor rows = Tensors.zeros(Tensors.of(new double[] {1}, ScalarType.Double), rank + 2, 3);
        String first = assertThrows(IllegalArgumentException.class, () -> c.allGather(rows)).getMessage();
        Tensor grads = Tensors.of(new double[] {1, 2, 3}, rank == 0 ? ScalarType.Double : ScalarType.Float);
        String second = assertThrows(IllegalArgumentException.class,
            () -> c.allReduce(grads, Collective.Reduction.SUM)).getMessage();
        String third = assertThrows(IllegalArgumentException.class, () -> {
          if (rank == 0) {
            c.barrier();
          } else {
            c.broadcast(Tensors.of(new double[] {1}, ScalarType.Double));
          }
        }).getMessage();
        c.barrier(); // the group is still usable
        return first + "\n" + second + "\n" + third;
      }
    });
    assertEquals(messages.get(0), messages.get(1));
    String[] m = messages.get(0).split("\n");
    assertTrue(m[0].contains("rank 0: all-gather of Double [2, 3]; rank 1: all-gather of Double [3, 3]"), m[0]);
    assertTrue(m[1].contains("rank 0: all-reduce of Double [3]; rank 1: all-reduce of Float [3]"), m[1]);
    assertTrue(m[2].contains("rank 0: barrier; rank 1: broadcast of Double [1]"), m[2]);
  }

  @Test
  void theSingleProcessCollectiveIsTheIdentity() {
    try (Scope s = Scope.open(); Collective c = Collectives.connect(at(1234, 0, 1, 1000), "cpu")) {
      assertTrue(c instanceof SingleProcessCollective);
      Tensor x = Tensors.of(new double[] {1, 2}, ScalarType.Double);
      assertArrayEquals(new double[] {1, 2}, Tensors.toDoubles(c.allGather(x)));
      c.allReduce(x, Collective.Reduction.AVG);
      c.broadcast(x);
      c.barrier();
      assertArrayEquals(new double[] {1, 2}, Tensors.toDoubles(x));
      c.close();
      assertThrows(IllegalStateException.class, c::barrier);
    }
  }
}
