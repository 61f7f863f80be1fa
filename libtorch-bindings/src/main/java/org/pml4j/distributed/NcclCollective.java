package org.pml4j.distributed;

import java.util.function.IntConsumer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;
import org.pml4j.torch.Torch;

/**
 * A {@link Collective} on c10d's {@code ProcessGroupNCCL} (CUDA tensors, one GPU per rank), formed like {@link
 * GlooCollective}. Needs a CUDA build of LibTorch (the {@code cuda} Maven profile) and a GPU; the class is only loaded
 * when {@link Collectives#connect(Rendezvous, String)} is asked for a CUDA device. Not exercised by the CPU-only tests.
 */
public final class NcclCollective extends C10dCollective {
  private NcclCollective(Rendezvous r, IntConsumer onStorePort) {
    super(r, (store, rv) -> {
      // As in GlooCollective: the group keeps its own reference to the options; free our handles now.
      try (ProcessGroupNCCL.Options opts = ProcessGroupNCCL.Options.create();
          Milliseconds timeout = new Milliseconds(rv.timeout().toMillis())) {
        opts.timeout(timeout);
        return new ProcessGroupNCCL(store, rv.rank(), rv.worldSize(), opts);
      }
    }, onStorePort);
  }

  /**
   * Joins the group.
   *
   * @throws IllegalArgumentException when {@code rendezvous} is null
   * @throws IllegalStateException when CUDA is not available or the rendezvous does not complete within its timeout
   */
  public static NcclCollective connect(Rendezvous rendezvous) {
    return connect(rendezvous, null);
  }

  /**
   * Joins the group, handing the store's bound TCP port to {@code onStorePort} before waiting for the peers (as {@link
   * GlooCollective#connect(Rendezvous, IntConsumer)}). NCCL needs one GPU per rank: replicas of one host take {@code
   * cuda:(rank % devices)} (see {@code Trainers.forRank}), so more ranks than GPUs on a host fail in NCCL.
   *
   * @param onStorePort called once with the store's port, or null
   * @throws IllegalArgumentException when {@code rendezvous} is null
   * @throws IllegalStateException when CUDA is not available or the rendezvous does not complete within its timeout
   */
  public static NcclCollective connect(Rendezvous rendezvous, IntConsumer onStorePort) {
    if (rendezvous == null) {
      throw new IllegalArgumentException("rendezvous must not be null");
    }
    if (!Torch.cudaAvailable()) {
      throw new IllegalStateException("NCCL needs CUDA, which is not available in this process");
    }
    return new NcclCollective(rendezvous, onStorePort);
  }

  @Override
  Tensor onBackendDevice(Tensor cpu, Tensor like) {
    return cpu.to(like != null ? like.device() : Torch.device("cuda"), cpu.scalar_type().intern());
  }

  @Override
  String name() {
    return "NCCL";
  }
}
