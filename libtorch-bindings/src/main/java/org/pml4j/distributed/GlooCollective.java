package org.pml4j.distributed;

import java.util.function.IntConsumer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.gloo.Device;

/**
 * A {@link Collective} on c10d's {@code ProcessGroupGloo} (CPU tensors), formed through a {@code TCPStore} hosted by
 * rank 0 and a {@code PrefixStore} with the rendezvous's per-attempt prefix. Gloo's transport binds on {@link
 * Rendezvous#bindHost()} (this rank's own address). Close it to leave the group.
 *
 * <pre>{@code
 * try (Collective c = GlooCollective.connect(new Rendezvous("127.0.0.1", port, rank, 2, "attempt-0"))) {
 *   Tensor all = c.allGather(embeddings);
 * }
 * }</pre>
 */
public final class GlooCollective extends C10dCollective {
  private GlooCollective(Rendezvous r, IntConsumer onStorePort) {
    super(r, (store, rv) -> {
      // The group keeps its own (counted) references to the options and the device: free our handles now, on this
      // thread, rather than on JavaCPP's garbage-collector thread at some later time.
      try (Milliseconds timeout = new Milliseconds(rv.timeout().toMillis());
          ProcessGroupGloo.Options opts = ProcessGroupGloo.Options.create(timeout);
          Device device = ProcessGroupGloo.createDeviceForHostname(rv.bindHost());
          GlooDeviceVector devices = new GlooDeviceVector(device)) {
        opts.devices(devices);
        return new ProcessGroupGloo(store, rv.rank(), rv.worldSize(), opts);
      }
    }, onStorePort);
  }

  /**
   * Joins the group; blocks until every rank has joined.
   *
   * @throws IllegalArgumentException when {@code rendezvous} is null
   * @throws IllegalStateException when the rendezvous does not complete within its timeout
   */
  public static GlooCollective connect(Rendezvous rendezvous) {
    return connect(rendezvous, null);
  }

  /**
   * Joins the group, handing the store's bound TCP port to {@code onStorePort} (on the connecting thread) as soon as
   * the store is up and before waiting for the peers: with {@code port} 0 on rank 0, that is how the other ranks learn
   * the port (publish it through whatever channel they read).
   *
   * @param onStorePort called once with the store's port, or null
   * @throws IllegalArgumentException when {@code rendezvous} is null
   * @throws IllegalStateException when the rendezvous does not complete within its timeout
   */
  public static GlooCollective connect(Rendezvous rendezvous, IntConsumer onStorePort) {
    if (rendezvous == null) {
      throw new IllegalArgumentException("rendezvous must not be null");
    }
    return new GlooCollective(rendezvous, onStorePort);
  }

  @Override
  String name() {
    return "Gloo";
  }
}
