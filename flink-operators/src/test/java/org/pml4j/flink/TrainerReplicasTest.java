package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Where a trainer replica binds ({@code trainer_bind_host}) and the replica spec's checks. */
class TrainerReplicasTest {
  @Test
  void theTaskManagersAddressByDefaultResolvedToAnIp() throws Exception {
    assertEquals(InetAddress.getByName("localhost").getHostAddress(),
        TrainerReplicas.bindAddress(TrainerReplicas.BIND_TASKMANAGER, "localhost"));
    assertEquals("192.0.2.10", TrainerReplicas.bindAddress("taskmanager", "192.0.2.10"));
    assertEquals(InetAddress.getLocalHost().getHostAddress(), TrainerReplicas.bindAddress("hostname", "192.0.2.10"));
    assertEquals("127.0.0.1", TrainerReplicas.bindAddress("127.0.0.1", "192.0.2.10"), "a literal wins");
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> TrainerReplicas.bindAddress("no-such-host.invalid", "192.0.2.10"));
    assertTrue(e.getMessage().contains("trainer_bind_host") && e.getMessage().contains("no-such-host.invalid"),
        e.getMessage());
  }

  @Test
  void theSpecRefusesABlankBindHostAndAMissingDirectory() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new TrainerReplicas.Spec(2, Path.of("/tmp/r"), Duration.ofSeconds(1), " "));
    assertTrue(e.getMessage().contains("trainer_bind_host"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new TrainerReplicas.Spec(2, (Path) null, Duration.ofSeconds(1), "taskmanager"));
    assertTrue(e.getMessage().contains("rendezvousDir"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new TrainerReplicas.Spec(1, Path.of("/tmp/r"), Duration.ofSeconds(1), "taskmanager"));
    assertTrue(e.getMessage().contains("parallelism"), e.getMessage());
    assertEquals("taskmanager", StreamJobConfig.fromArgs().trainerBindHost, "the job key's default");
  }
}
