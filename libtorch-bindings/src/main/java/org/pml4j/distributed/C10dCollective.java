package org.pml4j.distributed;

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
import org.pml4j.torch.Scope;
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

  private final Rendezvous rendezvous;
  private final TCPStore tcpStore;
  private final PrefixStore store;
  private final Backend backend;
  private boolean closed;

  /** Connects the store, then lets the subclass build the backend on it; frees the store when that fails. */
  C10dCollective(Rendezvous r, BackendFactory factory) {
    this.rendezvous = r;
    TCPStore tcp = null;
    PrefixStore prefixed = null;
    try {
      tcp = connectStore(r);
      prefixed = Scope.retain(new PrefixStore(r.prefix(), tcp));
      this.backend = Scope.retain(factory.create(prefixed, r));
    } catch (RuntimeException e) {
      closeQuietly(prefixed);
      closeQuietly(tcp);
      if (e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
        throw e;
      }
      throw new IllegalStateException(name() + " rendezvous of rank " + r.rank() + " of " + r.worldSize() + " at "
          + r.host() + ":" + r.port() + " (prefix '" + r.prefix() + "') failed within the timeout of "
          + r.timeout().toMillis() + " ms (a peer never joined or the store is unreachable): " + e.getMessage(), e);
    }
    this.tcpStore = tcp;
    this.store = prefixed;
  }

  /** Makes the process group on the prefixed store. */
  interface BackendFactory {
    Backend create(Store store, Rendezvous r);
  }

  private static TCPStore connectStore(Rendezvous r) {
    TCPStoreOptions opts = new TCPStoreOptions();
    opts.port((short) r.port());
    opts.isServer(r.rank() == 0);
    opts.numWorkers(new SizeTPointer(1).put(r.worldSize()));
    opts.waitWorkers(true);
    opts.timeout(new Milliseconds(r.timeout().toMillis()));
    return Scope.retain(new TCPStore(r.host(), opts));
  }

  /** The backend's name for messages: "Gloo" or "NCCL". */
  abstract String name();

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
    CollectiveChecks.requireGatherable(local, "local");
    checkOpen("all-gather");
    Tensor in = local.detach();
    boolean bool = Tensors.dtype(in) == ScalarType.Bool;
    if (bool) {
      in = in.to(ScalarType.Byte); // Gloo has no bool reduction type; bytes round-trip exactly
    }
    Tensor src = in.contiguous();
    long[] shape = Tensors.shape(src);
    shape[0] *= worldSize();
    Tensor out = Tensors.zeros(src, shape);
    run("all-gather", () -> backend._allgather_base(out, src));
    return bool ? out.to(ScalarType.Bool) : out;
  }

  @Override
  public void allReduce(Tensor tensor, Reduction reduction) {
    CollectiveChecks.requireReducible(tensor, reduction);
    checkOpen("all-reduce");
    AllreduceOptions opts = new AllreduceOptions();
    opts.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
    run("all-reduce", () -> backend.allreduce(new TensorVector(tensor), opts));
    if (reduction == Reduction.AVG && worldSize() > 1) {
      tensor.div_(Tensors.s((double) worldSize()));
    }
  }

  @Override
  public void broadcast(Tensor tensor) {
    CollectiveChecks.requireInPlace(tensor, "tensor");
    checkOpen("broadcast");
    BroadcastOptions opts = new BroadcastOptions();
    opts.rootRank(0);
    run("broadcast", () -> backend.broadcast(new TensorVector(tensor), opts));
  }

  @Override
  public void barrier() {
    checkOpen("barrier");
    run("barrier", backend::barrier);
  }

  private void run(String op, java.util.function.Supplier<Work> start) {
    try {
      Work w = start.get();
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
    closeQuietly(backend);
    closeQuietly(store);
    closeQuietly(tcpStore);
  }

  private static void closeQuietly(org.bytedeco.javacpp.Pointer p) {
    if (p != null) {
      try {
        p.close();
      } catch (RuntimeException ignored) {
        // freeing a group whose peer is gone must not mask the error that got us here
      }
    }
  }

  @Override
  public String toString() {
    return name() + "Collective{rank " + rank() + " of " + worldSize() + ", " + rendezvous.host() + ":"
        + rendezvous.port() + ", prefix '" + rendezvous.prefix() + "', timeout " + rendezvous.timeout().toMillis()
        + " ms" + (closed ? ", closed" : "") + "}";
  }
}
