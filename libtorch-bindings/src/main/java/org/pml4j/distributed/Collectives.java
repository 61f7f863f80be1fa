package org.pml4j.distributed;

import java.util.function.IntConsumer;

/** Picks the collective for a device: one process needs none, CPU uses Gloo, CUDA uses NCCL. */
public final class Collectives {
  private Collectives() {}

  /**
   * The collective for {@code rendezvous} on {@code device}: a {@link SingleProcessCollective} at world size 1, else a
   * {@link GlooCollective} for {@code "cpu"} and an {@link NcclCollective} for {@code "cuda"} / {@code "cuda:N"} (the
   * rank's GPU: {@code cuda:N} as given, plain {@code cuda} {@code cuda:(rank % GPUs)}; a CPU tensor handed to an NCCL
   * collective goes through it and comes back on the CPU).
   *
   * @throws IllegalArgumentException when an argument is null or the device is neither cpu nor cuda
   * @throws IllegalStateException when the group cannot be formed (see the implementations)
   */
  public static Collective connect(Rendezvous rendezvous, String device) {
    return connect(rendezvous, device, null);
  }

  /**
   * As {@link #connect(Rendezvous, String)}, handing the store's bound TCP port to {@code onStorePort} as soon as the
   * store is up (with {@code port} 0 on rank 0: how the other ranks learn it; see {@link
   * GlooCollective#connect(Rendezvous, IntConsumer)}). Not called at world size 1 (no store).
   *
   * @param onStorePort called once with the store's port, or null
   */
  public static Collective connect(Rendezvous rendezvous, String device, IntConsumer onStorePort) {
    if (rendezvous == null) {
      throw new IllegalArgumentException("rendezvous must not be null");
    }
    if (device == null) {
      throw new IllegalArgumentException("device must be 'cpu' or 'cuda[:N]', got null");
    }
    boolean cuda = device.equals("cuda") || device.startsWith("cuda:");
    if (!cuda && !device.equals("cpu")) {
      throw new IllegalArgumentException("device must be 'cpu' or 'cuda[:N]', got '" + device + "'");
    }
    if (rendezvous.worldSize() == 1) {
      return new SingleProcessCollective();
    }
    return cuda ? NcclCollective.connect(rendezvous, onStorePort, device)
        : GlooCollective.connect(rendezvous, onStorePort);
  }
}
