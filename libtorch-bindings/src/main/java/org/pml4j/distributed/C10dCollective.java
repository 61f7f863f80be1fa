package org.pml4j.distributed;

import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.function.IntConsumer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * A {@link Collective} on a c10d process group ({@code Backend}): the store handling and the collectives common to
 * Gloo and NCCL. Subclasses only create the backend.
 */
abstract class C10dCollective implements Collective {
  static {
    Torch.ensureLoaded();
  }

  /** Frees the natives of groups that were never closed, in the one safe order (see {@link Natives}). */
  private static final Cleaner CLEANER = Cleaner.create();

  private final Rendezvous rendezvous;
  private final Backend backend;
  private final Cleaner.Cleanable cleanable;
  private boolean closed;

  /**
   * The group's native objects: the TCP store, the prefix store and the process group, freed newest first by
   * {@link Owner#close}: the process group first (its destructor drains its work queue and joins its threads,
   * dropping the last references into the stores), then the prefix store, then the TCP store. The stores are made by
   * JavaCPP with a plain {@code new}, so the Java handles own them outright; nothing may still reference them when
   * they are deleted. Left to JavaCPP's garbage-collector thread, the three would be freed in any order, so a group
   * that is never closed is freed by a {@link Cleaner} closing this owner instead.
   */
  private final Owner natives = new Owner();

  /** Connects the store, then lets the subclass build the backend on it; frees the store when that fails. */
  C10dCollective(Rendezvous r, BackendFactory factory, IntConsumer onStorePort) {
    this.rendezvous = r;
    TCPStore tcp = null;
    PrefixStore prefixed = null;
    try {
      tcp = natives.own(connectStore(r));
      if (onStorePort != null) {
        onStorePort.accept(Short.toUnsignedInt(tcp.getPort()));
      }
      prefixed = natives.own(new PrefixStore(r.prefix(), tcp));
      this.backend = natives.own(factory.create(prefixed, r));
    } catch (RuntimeException e) {
      try {
        natives.close(); // the backend (if made), then the stores
      } catch (RuntimeException ignored) {
        // the rendezvous failure below is the error to report
      }
      if (e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
        throw e;
      }
      throw new IllegalStateException(name() + " rendezvous of rank " + r.rank() + " of " + r.worldSize() + " at "
          + r.host() + ":" + r.port() + " (prefix '" + r.prefix() + "') failed within the timeout of "
          + r.timeout().toMillis() + " ms (a peer never joined or the store is unreachable): " + e.getMessage(), e);
    }
    this.cleanable = CLEANER.register(this, natives::close);
  }

  /** Makes the process group on the prefixed store. */
  interface BackendFactory {
    Backend create(Store store, Rendezvous r);
  }

  private static TCPStore connectStore(Rendezvous r) {
    try (TCPStoreOptions opts = new TCPStoreOptions(); SizeTPointer workers = new SizeTPointer(1);
        Milliseconds timeout = new Milliseconds(r.timeout().toMillis())) {
      opts.port((short) r.port());
      opts.isServer(r.rank() == 0);
      opts.numWorkers(workers.put(r.worldSize()));
      // With a fixed port rank 0 can wait for every worker here; with an ephemeral port it must return first, so that
      // the caller can publish the port (the process group's own rendezvous then waits for the peers).
      opts.waitWorkers(r.port() != 0);
      opts.timeout(timeout);
      return new TCPStore(r.host(), opts);
    }
  }

  /** The backend's name for messages: "Gloo" or "NCCL". */
  abstract String name();

  /**
   * {@code cpu} moved to where this backend's collectives run: Gloo keeps it on the CPU, NCCL moves it to the CUDA
   * device of {@code like} (or its rank's CUDA device when {@code like} is null or on the CPU).
   */
  Tensor onBackendDevice(Tensor cpu, Tensor like) {
    return cpu;
  }

  /**
   * Whether {@code t} must be copied to {@link #onBackendDevice} for this backend (a CPU tensor on NCCL); never on
   * Gloo, so the CPU path copies nothing.
   */
  boolean needsMove(Tensor t) {
    return false;
  }

  /** {@code t} where this backend's collectives run: itself, or (a CPU tensor on NCCL) a copy on the rank's GPU. */
  private Tensor toBackend(Tensor t) {
    return needsMove(t) ? onBackendDevice(t, null) : t;
  }

  /** Copies an in-place collective's result back into {@code tensor} when it ran on a {@link #toBackend} copy. */
  private static void copyBack(Tensor on, Tensor tensor) {
    if (on != tensor) {
      try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
        tensor.copy_(on);
      }
    }
  }

  /** The rendezvous this group was formed with. */
  public Rendezvous rendezvous() {
    return rendezvous;
  }

  @Override
  public int rank() {
    return rendezvous.rank();
  }

  @Override
  public int worldSize() {
    return rendezvous.worldSize();
  }

  @Override
  public Tensor allGather(Tensor local) {
    return allGather(local, true);
  }

  /**
   * {@link #allGather} without the shape agreement (one collective instead of two), for callers whose protocol has
   * already established that every rank passes the same dtype and shape (see {@link Agreed}).
   */
  Tensor allGatherAgreed(Tensor local) {
    return allGather(local, false);
  }

  private Tensor allGather(Tensor local, boolean check) {
    CollectiveChecks.requireGatherable(local, "local");
    checkOpen("all-gather");
    Tensor detached = local.detach();
    Tensor in = toBackend(detached); // a CPU tensor on NCCL: gathered on the rank's GPU, handed back on the CPU
    boolean moved = in != detached;
    boolean bool = Tensors.dtype(in) == ScalarType.Bool;
    if (bool) {
      in = in.to(ScalarType.Byte); // Gloo has no bool reduction type; bytes round-trip exactly
    }
    Tensor src = in.contiguous();
    if (check) {
      agree(OP_ALL_GATHER, src);
    }
    long[] shape = Tensors.shape(src);
    shape[0] *= worldSize();
    Tensor out = Tensors.zeros(src, shape);
    run("all-gather", () -> backend._allgather_base(out, src));
    Tensor result = bool ? out.to(ScalarType.Bool) : out;
    return moved ? result.cpu() : result;
  }

  @Override
  public void allReduce(Tensor tensor, Reduction reduction) {
    allReduce(tensor, reduction, true);
  }

  /** {@link #allReduce} without the shape agreement, as {@link #allGatherAgreed}. */
  void allReduceAgreed(Tensor tensor, Reduction reduction) {
    allReduce(tensor, reduction, false);
  }

  private void allReduce(Tensor tensor, Reduction reduction, boolean check) {
    CollectiveChecks.requireReducible(tensor, reduction);
    checkOpen("all-reduce");
    if (check) {
      agree(OP_ALL_REDUCE, tensor);
    }
    Tensor on = toBackend(tensor);
    try (AllreduceOptions opts = new AllreduceOptions(); ReduceOp sum = new ReduceOp(ReduceOp.RedOpType.SUM);
        TensorVector tensors = new TensorVector(on)) {
      opts.reduceOp(sum);
      run("all-reduce", () -> backend.allreduce(tensors, opts));
    }
    copyBack(on, tensor);
    if (reduction == Reduction.AVG && worldSize() > 1) {
      tensor.div_(Tensors.s((double) worldSize()));
    }
  }

  @Override
  public void broadcast(Tensor tensor) {
    broadcast(tensor, true);
  }

  /** {@link #broadcast} without the shape agreement, as {@link #allGatherAgreed}. */
  void broadcastAgreed(Tensor tensor) {
    broadcast(tensor, false);
  }

  private void broadcast(Tensor tensor, boolean check) {
    CollectiveChecks.requireInPlace(tensor, "tensor");
    checkOpen("broadcast");
    if (check) {
      agree(OP_BROADCAST, tensor);
    }
    Tensor on = toBackend(tensor);
    try (BroadcastOptions opts = new BroadcastOptions(); TensorVector tensors = new TensorVector(on)) {
      opts.rootRank(0);
      run("broadcast", () -> backend.broadcast(tensors, opts));
    }
    copyBack(on, tensor);
  }

  @Override
  public void barrier() {
    checkOpen("barrier");
    agree(OP_BARRIER, null);
    run("barrier", backend::barrier);
  }


  private static final int OP_ALL_GATHER = 1;
  private static final int OP_ALL_REDUCE = 2;
  private static final int OP_BROADCAST = 3;
  private static final int OP_BARRIER = 4;
  private static final String[] OP_NAMES = {"?", "all-gather", "all-reduce", "broadcast", "barrier"};
  private static final int MAX_DIMS = 8;
  private static final int DESCRIPTOR = 3 + MAX_DIMS;

  /**
   * Checks that every rank is in the same collective with the same dtype and shape, before the collective itself:
   * Gloo aborts the whole process on a size mismatch. The check is one all-gather of a fixed-size descriptor (the
   * collective, dtype and shape), which cannot mismatch; every rank sees all descriptors and so every rank throws the
   * same IllegalArgumentException.
   */
  private void agree(int op, Tensor t) {
    long[] d = new long[DESCRIPTOR];
    Arrays.fill(d, -1);
    d[0] = op;
    if (t != null) {
      if (t.dim() > MAX_DIMS) {
        throw new IllegalArgumentException(OP_NAMES[op] + " supports at most " + MAX_DIMS + " dimensions, got "
            + Tensors.shapeString(t));
      }
      d[1] = Tensors.dtype(t).value;
      d[2] = t.dim();
      long[] shape = Tensors.shape(t);
      System.arraycopy(shape, 0, d, 3, shape.length);
    }
    Tensor mine = onBackendDevice(Tensors.longs(d), t);
    Tensor all = Tensors.zeros(mine, (long) DESCRIPTOR * worldSize());
    run(OP_NAMES[op] + " (shape agreement)", () -> backend._allgather_base(all, mine));
    long[] every = Tensors.toLongs(all);
    for (int r = 0; r < worldSize(); r++) {
      if (!Arrays.equals(every, r * DESCRIPTOR, (r + 1) * DESCRIPTOR, d, 0, DESCRIPTOR)) {
        StringBuilder msg = new StringBuilder("ranks disagree on the collective (every rank must call the same"
            + " collective with the same dtype and shape):");
        for (int q = 0; q < worldSize(); q++) {
          msg.append(" rank ").append(q).append(": ").append(describe(Arrays.copyOfRange(every, q * DESCRIPTOR,
              (q + 1) * DESCRIPTOR))).append(';');
        }
        throw new IllegalArgumentException(msg.toString());
      }
    }
  }

  private static String describe(long[] d) {
    int op = (int) d[0];
    String name = op >= 1 && op < OP_NAMES.length ? OP_NAMES[op] : "op " + op;
    if (d[2] < 0) {
      return name;
    }
    long[] shape = Arrays.copyOfRange(d, 3, 3 + (int) d[2]);
    return name + " of " + dtypeName(d[1]) + " " + Arrays.toString(shape);
  }

  private static String dtypeName(long value) {
    for (ScalarType t : ScalarType.values()) {
      if (t.value == value) {
        return t.name();
      }
    }
    return "dtype " + value;
  }

  /**
   * Starts a collective and waits for it. The {@code Work} is freed here, on this thread, before returning (also when
   * the wait fails): a Gloo {@code Work} holds the group's {@code gloo::Context}, whose store wrapper holds a reference
   * to our {@code PrefixStore}. A {@code Work} left to JavaCPP's garbage-collector thread could be freed after {@link
   * #close()} had deleted the stores, and that release writes into freed memory (glibc aborted the JVM with "corrupted
   * double-linked list" in the data-parallel tests).
   */
  private void run(String op, java.util.function.Supplier<Work> start) {
    try (Work w = start.get()) {
      w._wait();
    } catch (RuntimeException e) {
      throw new IllegalStateException(name() + " " + op + " failed on rank " + rank() + " of " + worldSize()
          + " (timeout " + rendezvous.timeout().toMillis() + " ms; a peer lost, slow or calling another collective?): "
          + e.getMessage(), e);
    }
  }

  private void checkOpen(String op) {
    if (closed) {
      throw new IllegalStateException(op + " on a closed " + name() + " group (rank " + rank() + " of " + worldSize()
          + ")");
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    cleanable.clean();
  }



  @Override
  public String toString() {
    return name() + "Collective{rank " + rank() + " of " + worldSize() + ", store " + rendezvous.host() + ":"
        + rendezvous.port() + ", bound on " + rendezvous.bindHost() + ", prefix '" + rendezvous.prefix() + "', timeout "
        + rendezvous.timeout().toMillis() + " ms" + (closed ? ", closed" : "") + "}";
  }
}
