package org.pml4j.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.time.Duration;
import java.util.List;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * The store's address and each rank's Gloo bind address are separate ({@link Rendezvous#bindHost()}): ranks on
 * different hosts bind on their own interfaces. Here rank 0 binds (and hosts the store) on this machine's non-loopback
 * IPv4 address and rank 1 on loopback, as two hosts would each bind on their own.
 */
class RendezvousAddressTest {
  /** This machine's first up, non-loopback IPv4 address, or null. */
  private static String routableAddress() throws Exception {
    for (NetworkInterface nif : java.util.Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (!nif.isUp() || nif.isLoopback()) {
        continue;
      }
      for (InetAddress a : java.util.Collections.list(nif.getInetAddresses())) {
        if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
          return a.getHostAddress();
        }
      }
    }
    return null;
  }

  @Test
  void ranksBindOnTheirOwnAddresses() throws Exception {
    String routable = routableAddress();
    Assumptions.assumeTrue(routable != null, "no non-loopback IPv4 interface on this machine");
    int port = Ranks.freePort();
    List<double[]> out = Ranks.run(2, 120, rank -> {
      // Rank 0 binds on the routable address and is reached there (as FileRendezvous publishes it); rank 1 binds on
      // loopback: each rank's device on an address of its own.
      String bind = rank == 0 ? routable : "127.0.0.1";
      Rendezvous r = new Rendezvous(routable, port, rank, 2, "bind", Duration.ofSeconds(20), bind);
      try (Scope s = Scope.open(); Collective c = GlooCollective.connect(r)) {
        assertTrue(c.toString().contains("bound on " + bind), c.toString());
        var t = Tensors.of(new double[] {rank + 1.0}, ScalarType.Double);
        c.allReduce(t, Collective.Reduction.SUM);
        return new double[] {Tensors.toDoubles(t)[0], Tensors.toDoubles(c.allGather(
            Tensors.of(new double[] {10.0 * rank}, ScalarType.Double)))[1]};
      }
    });
    assertArrayEquals(new double[] {3, 10}, out.get(0));
    assertArrayEquals(new double[] {3, 10}, out.get(1));
  }

  @Test
  void theGlooDeviceBindsOnBindHostNotOnTheStoresHost() {
    // 203.0.113.7 (TEST-NET-3) is no interface of this machine: the store on loopback comes up, the device cannot bind.
    Rendezvous r = new Rendezvous("127.0.0.1", 0, 0, 1, "bind-fail", Duration.ofSeconds(5), "203.0.113.7");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> GlooCollective.connect(r));
    assertTrue(e.getMessage().contains("rank 0 of 1"), e.getMessage());
    try (Scope s = Scope.open(); GlooCollective c = GlooCollective.connect(
        new Rendezvous("127.0.0.1", 0, 0, 1, "bind-ok", Duration.ofSeconds(5)))) {
      assertEquals("127.0.0.1", c.rendezvous().bindHost(), "bindHost defaults to host");
    }
    IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
        () -> new Rendezvous("127.0.0.1", 1, 0, 1, "p", Duration.ofSeconds(1), " "));
    assertTrue(blank.getMessage().contains("bindHost"), blank.getMessage());
  }
}
