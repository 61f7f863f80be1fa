package org.pml4j.distributed;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.MetricLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.ReplicaSync;

/**
 * Makes a {@link BaseTrainer} one replica of data-parallel training on a {@link Collective} (issue 13): the metric
 * loss runs through PML's {@link DistributedLossWrapper} / {@link DistributedMinerWrapper} (non-efficient form: each
 * replica computes the loss of the gathered batch with gradients into its own rows), the gradients of every
 * parameter the optimizer steps (encoder, head and loss parameters) are averaged by a {@link GradientAverager}, and
 * the replicas agree on skipping a non-finite step. With every replica seeing its shard of the same global batch in
 * rank order, the replicas step identically and stay bit-identical ({@link #replicasIdentical()} checks it).
 *
 * <pre>{@code
 * DataParallelSync sync = DataParallelSync.attach(trainer, collective); // broadcasts rank 0's parameters
 * trainer.trainStep(myShardFeatures, myShardLabels);                     // on every replica, in lockstep
 * }</pre>
 *
 * <p>Encoder buffers (BatchNorm running statistics) are rank 0's on every replica after each step, as with DDP's
 * default {@code broadcast_buffers=True}.
 */
public final class DataParallelSync implements ReplicaSync, AutoCloseable {
  /** The parameter handles below (owned copies; the trainer closes this sync with its own natives). */
  private final Owner handles;
  private final Collective collective;
  private final GradientAverager averager;
  private final List<Tensor> parameters;
  private final Map<Object, DistributedLossWrapper> losses = new IdentityHashMap<>();
  private final Map<Object, DistributedMinerWrapper> miners = new IdentityHashMap<>();
  private final boolean efficient;
  private long allReduceNanos;
  /** Between a {@link #beginStep} that let the step go on and its {@link #afterBackward}. */
  private boolean inStep;

  /** Broadcasts the encoder's buffers (BatchNorm running statistics), or null when it has none. */
  private final GradientAverager buffers;

  private DataParallelSync(Collective collective, Owner handles, List<Tensor> parameters, List<Tensor> buffers,
      boolean efficient) {
    this.handles = handles;
    this.collective = collective;
    this.efficient = efficient;
    this.parameters = parameters;
    this.averager = new GradientAverager(collective, parameters);
    this.buffers = buffers.isEmpty() ? null : GradientAverager.forBroadcast(collective, buffers);
  }

  /**
   * Attaches {@code trainer} to {@code collective} and copies rank 0's parameters to every replica.
   *
   * @throws IllegalArgumentException when an argument is null
   * @throws IllegalStateException when the broadcast fails (a peer lost)
   */
  public static DataParallelSync attach(BaseTrainer trainer, Collective collective) {
    return attach(trainer, collective, false);
  }

  /**
   * As {@link #attach(BaseTrainer, Collective)}, with PML's {@code efficient} choice: {@code false} (PML's default)
   * computes the miner and loss of the whole gathered batch on every replica, so the replicas train exactly as one
   * trainer on the global batch; {@code true} uses only this replica's rows as anchors against the gathered batch
   * (the others detached): each replica mines and computes {@code 1/N} of the pairs, which is what makes an O(B²)
   * miner or loss scale, at the price of a different (PML's "efficient") gradient.
   */
  public static DataParallelSync attach(BaseTrainer trainer, Collective collective, boolean efficient) {
    if (trainer == null || collective == null) {
      throw new IllegalArgumentException("trainer and collective are required");
    }
    List<Tensor> params = new ArrayList<>();
    Owner handles = new Owner();
    try (Scope s = Scope.open()) {
      OptimizerParamGroupVector groups = trainer.optimizer().unwrap().param_groups();
      for (long g = 0; g < groups.size(); g++) {
        TensorVector v = groups.get(g).params();
        for (long i = 0; i < v.size(); i++) {
          params.add(handles.own(new Tensor(v.get(i)))); // an owned handle: v points into the optimizer
        }
      }
    }
    List<Tensor> buffers = new ArrayList<>();
    for (Tensor b : trainer.encoder().namedBuffers().values()) {
      buffers.add(handles.own(new Tensor(b)));
    }
    DataParallelSync sync = new DataParallelSync(collective, handles, params, buffers, efficient);
    sync.broadcastParameters();
    trainer.setReplicaSync(sync);
    return sync;
  }

  /**
   * Frees this sync's parameter handles and its averagers' (not the parameters, nor the collective, which its caller
   * owns).
   */
  @Override
  public void close() {
    averager.close();
    if (buffers != null) {
      buffers.close();
    }
    handles.close();
  }

  /** Copies rank 0's parameters and encoder buffers to every replica (at the start and after a restore). */
  public void broadcastParameters() {
    averager.broadcastParameters();
    broadcastBuffers(false);
  }

  /**
   * Copies rank 0's encoder buffers (BatchNorm's running statistics and batch count) to every replica, as PyTorch
   * DDP does with {@code broadcast_buffers=True} (its default): each replica's forward updates them from its own
   * shard, and without this they would drift apart. One broadcast per bucket (buffers of one dtype).
   */
  private void broadcastBuffers(boolean agreed) {
    if (buffers == null) {
      return;
    }
    if (agreed) {
      buffers.broadcastParametersAgreed();
    } else {
      buffers.broadcastParameters();
    }
  }

  /** The collective. */
  public Collective collective() {
    return collective;
  }

  /** The gradient averager (for its timings). */
  public GradientAverager averager() {
    return averager;
  }

  @Override
  public int worldSize() {
    return collective.worldSize();
  }

  /**
   * {@inheritDoc}
   *
   * <p>One all-gather of a fixed-size descriptor (finite flag, shape, dtype). It is the step's shape agreement: the
   * step's other collectives (the gathered batch, the gradient all-reduce) then skip their own ({@link Agreed}), so a
   * step costs three collectives. A step that failed on this replica between its collectives (an exception out of
   * the loss) leaves the group out of step; the next step then throws IllegalStateException instead of issuing
   * collectives that no longer match the peers'.
   */
  @Override
  public boolean beginStep(Tensor embeddings, boolean localFinite) {
    if (inStep) {
      throw new IllegalStateException("the previous data-parallel step failed on rank " + collective.rank()
          + " between its collectives, so this replica is out of step with its peers: form a new group");
    }
    if (embeddings == null || embeddings.isNull() || !embeddings.defined() || embeddings.dim() < 1
        || embeddings.dim() > 2) {
      throw new IllegalArgumentException("embeddings must be a defined [B] or [B, E] tensor");
    }
    long[] d = {localFinite ? 1 : 0, embeddings.size(0), embeddings.dim() == 2 ? embeddings.size(1) : -1,
        Tensors.dtype(embeddings).value};
    long[] every;
    try (Scope s = Scope.open()) {
      every = Tensors.toLongs(Agreed.allGather(collective, Tensors.longs(d)));
    }
    boolean allFinite = true;
    for (int r = 0; r < collective.worldSize(); r++) {
      if (every[4 * r + 1] != d[1] || every[4 * r + 2] != d[2] || every[4 * r + 3] != d[3]) {
        StringBuilder msg = new StringBuilder("replicas must step on batches of the same shape and dtype:");
        for (int q = 0; q < collective.worldSize(); q++) {
          msg.append(" rank ").append(q).append(" [").append(every[4 * q + 1])
              .append(every[4 * q + 2] >= 0 ? ", " + every[4 * q + 2] : "").append("] dtype ")
              .append(every[4 * q + 3]).append(';');
        }
        throw new IllegalArgumentException(msg.toString());
      }
      allFinite &= every[4 * r] == 1;
    }
    inStep = allFinite;
    return allFinite;
  }

  /** {@inheritDoc} The batch is gathered once (one collective) for the miner and the loss. */
  @Override
  public Tensor metricLoss(MetricLoss lossOrMemory, BaseMiner miner, Tensor embeddings, Tensor labels) {
    DistributedLossWrapper loss = losses.computeIfAbsent(lossOrMemory,
        l -> new DistributedLossWrapper((MetricLoss) l, efficient && !(l instanceof CrossBatchMemory), collective));
    DistributedMinerWrapper m = miner == null ? null
        : miners.computeIfAbsent(miner, x -> new DistributedMinerWrapper((BaseMiner) x, efficient, collective));
    // The miner's order (local first when efficient) is the loss's: a CrossBatchMemory, never efficient, has no miner
    // here (its miner runs inside it).
    Gathering.Batch all = Gathering.gatherBatch(collective, embeddings, labels, loss.efficient(), inStep);
    IndicesTuple tuple = m == null ? null : m.forwardGathered(embeddings, labels, all, null, null);
    return loss.forwardGathered(embeddings, labels, tuple, all);
  }

  @Override
  public boolean afterBackward(boolean localLossFinite) {
    boolean ok = inStep ? averager.averageGradientsAgreed(localLossFinite) : averageChecked(localLossFinite);
    broadcastBuffers(inStep);
    inStep = false;
    allReduceNanos += averager.lastAllReduceNanos();
    return ok;
  }

  /** Outside {@link #beginStep}'s protocol (a caller of its own): checked collectives. */
  private boolean averageChecked(boolean localLossFinite) {
    boolean ok = all(localLossFinite);
    averager.averageGradients();
    return ok;
  }

  /** Whether {@code local} is true on every replica (one checked all-gather). */
  private boolean all(boolean local) {
    try (Scope s = Scope.open()) {
      long[] every = Tensors.toLongs(collective.allGather(Tensors.longs(local ? 1 : 0)));
      for (long v : every) {
        if (v == 0) {
          return false;
        }
      }
      return true;
    }
  }

  /** Wall time spent in the gradient all-reduces since this sync was attached, in seconds. */
  public double allReduceSeconds() {
    return allReduceNanos / 1e9;
  }

  /** SHA-256 of this replica's parameters (values in order), as hex. */
  public String parameterHash() {
    try (Scope s = Scope.open()) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (Tensor p : parameters) {
        double[] d = Tensors.toDoubles(p.detach().flatten());
        ByteBuffer b = ByteBuffer.allocate(d.length * 8);
        for (double v : d) {
          b.putDouble(v);
        }
        md.update(b.array());
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Whether every replica's parameters are bit-identical to rank 0's (an all-gather of the parameter hashes; every
   * replica must call it at the same point).
   */
  public boolean replicasIdentical() {
    byte[] mine = java.util.HexFormat.of().parseHex(parameterHash());
    long[] words = new long[4];
    ByteBuffer.wrap(mine).asLongBuffer().get(words);
    try (Scope s = Scope.open()) {
      long[] every = Tensors.toLongs(collective.allGather(Tensors.longs(words)));
      for (int r = 1; r < collective.worldSize(); r++) {
        for (int i = 0; i < 4; i++) {
          if (every[r * 4 + i] != every[i]) {
            return false;
          }
        }
      }
      return true;
    }
  }

  @Override
  public String toString() {
    return "DataParallelSync{" + collective + ", " + averager + "}";
  }
}
