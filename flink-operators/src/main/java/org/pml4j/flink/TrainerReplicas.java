package org.pml4j.flink;

import java.io.Serializable;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.streaming.api.operators.StreamingRuntimeContext;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.pml4j.distributed.Collective;
import org.pml4j.distributed.DataParallelSync;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.CheckpointableTrainer;
import org.pml4j.train.TrainingEngine;

/**
 * The group of trainer replicas one {@link TrainerOperator} subtask belongs to for one restart attempt (issue 13):
 * the rendezvous ({@link FileRendezvous}, one key prefix per attempt), the c10d collective (Gloo for a trainer on the
 * CPU, NCCL for one on CUDA: the trainer's {@code device}), the {@link
 * DataParallelSync} attached to the trainer, its per-replica metrics and the publication metrics rank 0 adds. The
 * operator makes one per attempt in {@code initializeState} (after restoring its engine, so rank 0's restored
 * parameters are the ones broadcast) and closes it in {@code close}.
 */
final class TrainerReplicas implements AutoCloseable {
  private static final org.slf4j.Logger LOGGER = org.slf4j.LoggerFactory.getLogger(TrainerReplicas.class);

  /** ModelUpdate metric (data-parallel training): the number of trainer replicas. */
  static final String METRIC_PARALLELISM = "parallelism";
  /**
   * ModelUpdate metric (data-parallel training): 1 when every replica's parameter hash equals rank 0's at this
   * version, else 0.
   */
  static final String METRIC_REPLICAS_IDENTICAL = "replicas_identical";
  /** ModelUpdate metric (data-parallel training): rank 0's wall time in gradient all-reduces in this attempt. */
  static final String METRIC_ALL_REDUCE_SECONDS = "all_reduce_seconds";
  /** How long replicas wait for each other to form a group and in each collective, by default. */
  static final Duration DEFAULT_TIMEOUT = org.pml4j.distributed.Rendezvous.DEFAULT_TIMEOUT;
  /** {@code trainer_bind_host}: the TaskManager's own address (see {@link #bindAddress}). */
  static final String BIND_TASKMANAGER = "taskmanager";
  /** {@code trainer_bind_host}: {@link InetAddress#getLocalHost()}. */
  static final String BIND_HOSTNAME = "hostname";

  /**
   * LibTorch's default generator is process-wide and a trainer seeds it and draws its initial weights from it:
   * trainers built at once in one JVM (replicas in the slots of one TaskManager) would interleave their draws, and
   * rank 0's initial weights, which every replica receives, would depend on the race.
   */
  private static final Object CONSTRUCTION_LOCK = new Object();

  private final int rank;
  private final int parallelism;
  private Collective collective;
  private DataParallelSync sync;

  private TrainerReplicas(int rank, int parallelism, Collective collective, DataParallelSync sync) {
    this.rank = rank;
    this.parallelism = parallelism;
    this.collective = collective;
    this.sync = sync;
  }

  /** Builds a trainer while no other trainer of this JVM is being built (see {@link #CONSTRUCTION_LOCK}). */
  static CheckpointableTrainer build(Supplier<CheckpointableTrainer> factory) {
    synchronized (CONSTRUCTION_LOCK) {
      return factory.get();
    }
  }

  /**
   * The replica group a {@link TrainerOperator} is built for (serialized with the job).
   *
   * @param parallelism the number of replicas, at least 2
   * @param rendezvousDir a directory every replica sees ({@link FileRendezvous}), absolute
   * @param timeoutMillis how long to wait for the peers to form the group and in each collective
   * @param bindHost where each replica binds, resolved on its TaskManager by {@link #bindAddress}
   * @param efficient PML's {@code efficient} form of the distributed loss and miner wrappers ({@link
   *     DataParallelSync#attach(BaseTrainer, Collective, boolean)}): local anchors against the gathered batch
   */
  record Spec(int parallelism, String rendezvousDir, long timeoutMillis, String bindHost, boolean efficient)
      implements Serializable {
    /** Checks the values. */
    Spec {
      if (parallelism < 2) {
        throw new IllegalArgumentException("data-parallel trainer parallelism must be >= 2, got " + parallelism);
      }
      if (rendezvousDir == null || rendezvousDir.isBlank()) {
        throw new IllegalArgumentException("rendezvousDir is required for trainer parallelism " + parallelism);
      }
      if (timeoutMillis <= 0) {
        throw new IllegalArgumentException("replicaTimeout must be positive, got " + timeoutMillis + " ms");
      }
      if (bindHost == null || bindHost.isBlank()) {
        throw new IllegalArgumentException("trainer_bind_host must be '" + BIND_TASKMANAGER + "', '" + BIND_HOSTNAME
            + "' or a host name or address, got " + (bindHost == null ? "null" : "'" + bindHost + "'"));
      }
    }

    /**
     * @param rendezvousDir made absolute; null is refused
     * @param timeout positive
     */
    Spec(int parallelism, Path rendezvousDir, Duration timeout, String bindHost) {
      this(parallelism, rendezvousDir, timeout, bindHost, false);
    }

    /** As above, with PML's {@code efficient} choice. */
    Spec(int parallelism, Path rendezvousDir, Duration timeout, String bindHost, boolean efficient) {
      this(parallelism, rendezvousDir == null ? null : rendezvousDir.toAbsolutePath().toString(),
          timeout == null ? 0 : timeout.toMillis(), bindHost, efficient);
    }
  }

  /**
   * Forms this attempt's group of replicas and makes {@code trainer} one of them (rank 0's parameters everywhere):
   * the subtask index is the rank, the attempt number the group's prefix, the job id the rendezvous file's folder.
   *
   * @throws IllegalStateException when the trainer is not a {@link BaseTrainer}, the subtask count is not the spec's
   *     parallelism, or the group does not form within the spec's timeout
   */
  static TrainerReplicas join(CheckpointableTrainer trainer, Spec spec, StreamingRuntimeContext context) {
    int parallelism = spec.parallelism();
    if (!(trainer instanceof BaseTrainer base)) {
      throw new IllegalStateException("trainer parallelism " + parallelism + " needs a BaseTrainer (Trainers"
          + ".fromConfig), the factory built a " + trainer.getClass().getName());
    }
    TaskInfo task = context.getTaskInfo();
    if (task.getNumberOfParallelSubtasks() != parallelism) {
      throw new IllegalStateException("the trainer runs at parallelism " + task.getNumberOfParallelSubtasks()
          + " but was built for " + parallelism + " replicas");
    }
    int rank = task.getIndexOfThisSubtask();
    int attempt = task.getAttemptNumber();
    String jobId = context.getJobInfo().getJobId().toHexString();
    String address = bindAddress(spec.bindHost(), context.getTaskManagerRuntimeInfo().getTaskManagerExternalAddress());
    // The trainer's device picks the backend: Gloo on the CPU, NCCL on CUDA (each rank on cuda:(rank % devices) when
    // the job says plain cuda: TrainerOperator builds the replica's trainer with Trainers.forRank).
    Collective collective = FileRendezvous.join(Path.of(spec.rendezvousDir()), jobId, attempt, rank, parallelism,
        address, Duration.ofMillis(spec.timeoutMillis()), base.deviceName());
    DataParallelSync sync;
    try {
      sync = DataParallelSync.attach(base, collective, spec.efficient());
    } catch (RuntimeException e) {
      collective.close();
      throw e;
    }
    LOGGER.info("pml4j trainer replica {} of {} joined (attempt {}, {})", rank, parallelism, attempt, sync);
    return new TrainerReplicas(rank, parallelism, collective, sync);
  }

  /**
   * The address this replica binds its Gloo device on, and (rank 0) publishes as the store's address, as a numeric IP
   * (so that the device binds exactly where the peers are told to connect):
   *
   * <ul>
   *   <li>{@code taskmanager} (the default): the TaskManager's external address ({@code taskmanager.host}, or the
   *       address the TaskManager found to reach the JobManager). The TaskManagers' data exchange already runs over
   *       it, so every peer can reach it, with no configuration of the job's own; on one machine (the embedded
   *       MiniCluster, a local standalone cluster) it is loopback, so loopback stays what all-local runs use.
   *   <li>{@code hostname}: {@link InetAddress#getLocalHost()}; not the default because on many Linux installations
   *       the host name maps to 127.0.1.1 in {@code /etc/hosts}, which no other machine can reach.
   *   <li>anything else: that host name or address, for every replica (e.g. {@code 127.0.0.1} to pin loopback, or a
   *       name that each machine resolves to its own interface).
   * </ul>
   *
   * @param setting the {@code trainer_bind_host} value
   * @param taskManagerAddress the TaskManager's external address
   * @throws IllegalStateException when the address does not resolve
   */
  static String bindAddress(String setting, String taskManagerAddress) {
    String host = switch (setting) {
      case BIND_TASKMANAGER -> taskManagerAddress;
      case BIND_HOSTNAME -> {
        try {
          yield InetAddress.getLocalHost().getHostAddress();
        } catch (UnknownHostException e) {
          throw new IllegalStateException("trainer_bind_host 'hostname': this machine's host name does not resolve",
              e);
        }
      }
      default -> setting;
    };
    try {
      return InetAddress.getByName(host).getHostAddress();
    } catch (UnknownHostException e) {
      throw new IllegalStateException("trainer_bind_host '" + setting + "': the address '" + host
          + "' does not resolve on this TaskManager", e);
    }
  }

  /** This replica's rank (the subtask index). */
  int rank() {
    return rank;
  }

  /** Per replica: the last step's all-reduce time and the bytes each step moves into it. */
  void registerMetrics(MetricGroup g) {
    g.gauge("allReduceMillis", (Gauge<Double>) () -> sync == null ? 0.0 : sync.averager().lastAllReduceNanos() / 1e6);
    g.gauge("allReduceBytesPerStep", (Gauge<Long>) () -> sync == null ? 0L : sync.averager().bytesPerStep());
  }

  /**
   * The metrics of a publication, for the job: compares the replicas' parameter hashes (a collective: every replica
   * publishes at the same step, so every replica calls this), then on rank 0 returns {@code p}'s metrics with {@link
   * #METRIC_PARALLELISM}, {@link #METRIC_REPLICAS_IDENTICAL}, {@link #METRIC_ALL_REDUCE_SECONDS} and the samples
   * scaled to the job; on the other ranks null (only rank 0 publishes).
   */
  Map<String, Double> publication(TrainingEngine.Publication p) {
    boolean identical = sync.replicasIdentical();
    if (rank != 0) {
      return null;
    }
    Map<String, Double> metrics = new LinkedHashMap<>(p.metrics());
    metrics.put(METRIC_PARALLELISM, (double) parallelism);
    metrics.put(METRIC_REPLICAS_IDENTICAL, identical ? 1.0 : 0.0);
    metrics.put(METRIC_ALL_REDUCE_SECONDS, sync.allReduceSeconds());
    // Every replica trains an equal shard: the job's records are rank 0's times the replicas.
    metrics.computeIfPresent(TrainingEngine.METRIC_SAMPLES, (k, v) -> v * parallelism);
    metrics.computeIfPresent(TrainingEngine.METRIC_SAMPLES_PER_SEC, (k, v) -> v * parallelism);
    return metrics;
  }

  /** Leaves the group (its sockets close, so a peer waiting in a collective fails at once). */
  @Override
  public void close() {
    if (collective != null) {
      sync = null;
      Collective c = collective;
      collective = null;
      c.close();
    }
  }
}
