package org.pml4j.distributed;

import java.time.Duration;

/**
 * Where and how the replicas of one group meet: rank 0 hosts a c10d {@code TCPStore} on {@code host:port}, every rank
 * connects to it, and the process group's keys live under {@code prefix} (one prefix per restart attempt, so that a
 * fresh group never reads a dead attempt's keys). {@code timeout} bounds the rendezvous and every collective: a peer
 * that never joins, or is lost, makes the call fail with an IllegalStateException after about that long instead of
 * hanging.
 *
 * <p><b>Two addresses.</b> {@code host} is where rank 0's store is reached (rank 0's own address, as every rank sees
 * it); {@code bindHost} is the interface this rank's Gloo device binds on, which Gloo advertises to the peers through
 * the store, so it must be this rank's own address and reachable from every other rank. On one machine both are
 * loopback; across machines each rank binds on its own host's routable address and connects to rank 0's. (The store's
 * server listens on every interface of rank 0; NCCL picks its own socket interface, {@code NCCL_SOCKET_IFNAME}.)
 *
 * @param host the address of rank 0's store, reachable by every rank
 * @param port the store's TCP port, 1..65535; 0 on rank 0 binds any free port, which {@code
 *     GlooCollective.connect(rendezvous, onStorePort)} hands to its callback for publishing to the other ranks
 * @param rank this replica's rank, 0..worldSize-1
 * @param worldSize the number of replicas, at least 1
 * @param prefix the key prefix of this group (for instance {@code "attempt-3"}), not empty
 * @param timeout rendezvous and collective timeout, positive
 * @param bindHost the address this rank's Gloo device binds on: this rank's own address, reachable by its peers
 */
public record Rendezvous(String host, int port, int rank, int worldSize, String prefix, Duration timeout,
    String bindHost) {
  /** The default timeout: well under Flink's default heartbeat timeout (50 s). */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  /**
   * Validates the arguments.
   *
   * @throws IllegalArgumentException naming the bad argument
   */
  public Rendezvous {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("host must be a host name or address, got " + (host == null ? "null" : "'"
          + host + "'"));
    }
    if (bindHost == null || bindHost.isBlank()) {
      throw new IllegalArgumentException("bindHost must be a host name or address, got " + (bindHost == null ? "null"
          : "'" + bindHost + "'"));
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in 1..65535 (or 0 on rank 0: any free port), got " + port);
    }
    if (worldSize < 1) {
      throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
    }
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank must be in 0.." + (worldSize - 1) + " for worldSize " + worldSize
          + ", got " + rank);
    }
    if (port == 0 && rank != 0) {
      throw new IllegalArgumentException("port 0 (any free port) is for rank 0, which hosts the store; rank " + rank
          + " must be given the port rank 0 bound");
    }
    if (prefix == null || prefix.isEmpty()) {
      throw new IllegalArgumentException("prefix must not be empty (use one prefix per attempt, e.g. 'attempt-0')");
    }
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, got " + timeout);
    }
    if (timeout.toMillis() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("timeout must be at most " + Integer.MAX_VALUE + " ms, got " + timeout);
    }
  }

  /** A rendezvous whose ranks bind their Gloo devices on {@code host} too (all ranks on one machine). */
  public Rendezvous(String host, int port, int rank, int worldSize, String prefix, Duration timeout) {
    this(host, port, rank, worldSize, prefix, timeout, host);
  }

  /** The same rendezvous with {@link #DEFAULT_TIMEOUT}, every rank binding on {@code host}. */
  public Rendezvous(String host, int port, int rank, int worldSize, String prefix) {
    this(host, port, rank, worldSize, prefix, DEFAULT_TIMEOUT);
  }
}
