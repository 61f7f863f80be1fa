package org.pml4j.distributed;

import java.util.function.IntConsumer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;
import org.pml4j.torch.Torch;

/**
 * A {@link Collective} on c10d's {@code ProcessGroupNCCL} (CUDA tensors, one GPU per rank), formed like {@link
 * GlooCollective}. Needs a CUDA build of LibTorch (the {@code cuda} Maven profile) and a GPU; the class is only loaded
 * when {@link Collectives#connect(Rendezvous, String)} is asked for a CUDA device. Not exercised by the CPU-only tests.
 */
public final class NcclCollective extends C10dCollective {
  /** This rank's CUDA device index: where CPU tensors handed to a collective are moved (NCCL takes CUDA only). */
  private final byte cudaIndex;

  private NcclCollective(Rendezvous r, IntConsumer onStorePort, int cudaIndex) {
    super(r, (store, rv) -> {
      // As in GlooCollective: the group keeps its own reference to the options; free our handles now.
      try (ProcessGroupNCCL.Options opts = ProcessGroupNCCL.Options.create();
          Milliseconds timeout = new Milliseconds(rv.timeout().toMillis())) {
        opts.timeout(timeout);
        return new ProcessGroupNCCL(store, rv.rank(), rv.worldSize(), opts);
      }
    }, onStorePort);
    this.cudaIndex = (byte) cudaIndex;
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
   * Joins the group on {@code device} ({@code cuda:N}; {@code cuda}: {@code cuda:(rank % GPUs)}, as {@code
   * Trainers.forRank} places a replica's trainer): the GPU that CPU tensors handed to a collective go through.
   *
   * @throws IllegalArgumentException when {@code rendezvous} is null or {@code device} is not cuda or cuda:N
   * @throws IllegalStateException when CUDA is not available or the rendezvous does not complete within its timeout
   */
  public static NcclCollective connect(Rendezvous rendezvous, IntConsumer onStorePort, String device) {
    if (rendezvous == null) {
      throw new IllegalArgumentException("rendezvous must not be null");
    }
    if (device == null || !(device.equals("cuda") || device.matches("cuda:[0-9]{1,3}"))) {
      throw new IllegalArgumentException("NCCL device must be 'cuda' or 'cuda:N', got " + device);
    }
    if (!Torch.cudaAvailable()) {
      throw new IllegalStateException("NCCL needs CUDA, which is not available in this process");
    }
    int index = device.equals("cuda") ? rendezvous.rank() % Math.max(1, Torch.cudaDeviceCount())
        : Integer.parseInt(device.substring(5));
    return new NcclCollective(rendezvous, onStorePort, index);
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
    return connect(rendezvous, onStorePort, "cuda");
  }

  @Override
  Tensor onBackendDevice(Tensor cpu, Tensor like) {
    if (like != null && like.is_cuda()) {
      return cpu.to(like.device(), cpu.scalar_type().intern());
    }
    try (Device d = new Device(torch.DeviceType.CUDA, cudaIndex)) {
      return cpu.to(d, cpu.scalar_type().intern());
    }
  }

  @Override
  boolean needsMove(Tensor t) {
    return !t.is_cuda();
  }

  @Override
  String name() {
    return "NCCL";
  }
}
