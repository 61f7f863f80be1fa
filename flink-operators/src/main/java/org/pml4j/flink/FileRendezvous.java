package org.pml4j.flink;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.pml4j.distributed.Collective;
import org.pml4j.distributed.Collectives;
import org.pml4j.distributed.Rendezvous;

/**
 * How the trainer replicas of one job attempt find each other (issue 13): rank 0 hosts the c10d {@code TCPStore} on a
 * free port and writes {@code host port} to {@code DIR/<job id>/attempt-<n>}; the other ranks poll for that file and
 * connect. The group's key prefix is {@code attempt-<n>}, so a restarted attempt forms a fresh group.
 *
 * <p>Why a file and not an operator coordinator: the job already needs a directory that every TaskManager sees (the
 * published models and the summary go there), a file is all a rendezvous needs, it works the same on the embedded
 * MiniCluster and on a cluster, and it uses only Flink's public API (an operator coordinator needs
 * {@code CoordinatedOperatorFactory}, Flink-internal API, and an RPC round trip through the JobManager).
 */
final class FileRendezvous {
  private FileRendezvous() {}

  /** The file rank 0 writes for {@code attempt} of {@code jobId}. */
  static Path file(Path dir, String jobId, int attempt) {
    return dir.resolve(jobId).resolve("attempt-" + attempt);
  }

  /**
   * Forms the group of {@code rank} among {@code worldSize} replicas: Gloo for {@code device} {@code cpu}, NCCL for
   * {@code cuda:N} ({@link Collectives#connect(Rendezvous, String, java.util.function.IntConsumer)}). Every rank binds
   * its Gloo device on {@code host}, its own address; rank 0 also publishes it as the store's address, and the others
   * connect there.
   *
   * @param device this replica's trainer device ({@code BaseTrainer.deviceName()}): {@code cpu} or {@code cuda:N}
   * @throws IllegalStateException when rank 0's address does not appear within {@code timeout} or the group does not
   *     form within it
   */
  static Collective join(Path dir, String jobId, int attempt, int rank, int worldSize, String host,
      Duration timeout, String device) {
    Path file = file(dir, jobId, attempt);
    String prefix = "attempt-" + attempt;
    if (rank == 0) {
      Collective c = Collectives.connect(new Rendezvous(host, 0, 0, worldSize, prefix, timeout), device,
          port -> publish(file, host, port));
      try {
        Files.deleteIfExists(file); // every peer has joined: the address is not needed any more
      } catch (IOException e) {
        // harmless: the next attempt writes a file of its own
      }
      return c;
    }
    String[] hostPort = await(file, timeout);
    return Collectives.connect(new Rendezvous(hostPort[0], Integer.parseInt(hostPort[1]), rank, worldSize, prefix,
        timeout, host), device);
  }

  private static void publish(Path file, String host, int port) {
    try {
      Files.createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.writeString(tmp, host + " " + port + "\n", StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the trainer rendezvous file " + file, e);
    }
  }

  private static String[] await(Path file, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        if (Files.exists(file)) {
          String[] parts = Files.readString(file, StandardCharsets.UTF_8).trim().split(" ");
          if (parts.length == 2) {
            return parts;
          }
        }
      } catch (IOException e) {
        // being written: try again
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("trainer rank 0 did not publish its address in " + file + " within "
            + timeout.toMillis() + " ms (is the directory shared by all TaskManagers?)");
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for " + file, e);
      }
    }
  }
}
