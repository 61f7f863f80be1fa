package org.pml4j.distributed;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Torch;

/**
 * The group of one: rank 0 of world size 1. All-gather returns a detached copy of the input, all-reduce and broadcast
 * leave the tensor as it is, the barrier returns at once. Lets single-process training run the data-parallel code path
 * unchanged.
 */
public final class SingleProcessCollective implements Collective {
  static {
    Torch.ensureLoaded();
  }

  private boolean closed;

  @Override
  public int rank() {
    return 0;
  }

  @Override
  public int worldSize() {
    return 1;
  }

  @Override
  public Tensor allGather(Tensor local) {
    CollectiveChecks.requireGatherable(local, "local");
    checkOpen();
    return local.detach().clone();
  }

  @Override
  public void allReduce(Tensor tensor, Reduction reduction) {
    CollectiveChecks.requireReducible(tensor, reduction);
    checkOpen();
  }

  @Override
  public void broadcast(Tensor tensor) {
    CollectiveChecks.requireInPlace(tensor, "tensor");
    checkOpen();
  }

  @Override
  public void barrier() {
    checkOpen();
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the single-process collective is closed");
    }
  }

  @Override
  public void close() {
    closed = true;
  }

  @Override
  public String toString() {
    return "SingleProcessCollective";
  }
}
