package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.apache.flink.client.deployment.executors.LocalExecutor;
import org.apache.flink.client.program.StreamContextEnvironment;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.DeploymentOptions;
import org.apache.flink.core.execution.DefaultExecutorServiceLoader;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the trainer's parallelism is chosen: {@code trainer_parallelism} when set, else the job's parallelism under
 * {@code flink run} (the context environment's {@code -p N} / {@code parallelism.default}), else 1 (embedded).
 */
class TrainerParallelismTest {
  @TempDir
  Path tmp;

  @Test
  void theKeyWinsThenTheJobsParallelismOnAClusterThenOne() {
    assertEquals(3, JobEnvironment.trainerParallelism(3, 4, true));
    assertEquals(2, JobEnvironment.trainerParallelism(2, 8, false));
    assertEquals(4, JobEnvironment.trainerParallelism(0, 4, true));
    assertEquals(1, JobEnvironment.trainerParallelism(0, 8, false), "embedded: not the machine's core count");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> JobEnvironment.trainerParallelism(-2, 4, true));
    assertTrue(e.getMessage().contains("trainer_parallelism") && e.getMessage().contains("-2"), e.getMessage());
  }

  @Test
  void trainerThreadsOverrideTheTrainerConfigsThreads() {
    StreamJobConfig unset = StreamJobConfig.fromArgs("--output-dir", tmp.toString(), "--dataset", "synthetic");
    assertEquals(1, StreamTopology.trainerConfig(unset).threads(), "the default trainer's");
    StreamJobConfig two = StreamJobConfig.fromArgs("--output-dir", tmp.toString(), "--dataset", "synthetic",
        "--trainer-threads", "2");
    assertEquals(2, StreamTopology.trainerConfig(two).threads());
    assertEquals(StreamTopology.trainerConfig(unset).encoder(), StreamTopology.trainerConfig(two).encoder());
    StreamJobConfig bad = StreamJobConfig.fromArgs("--output-dir", tmp.toString(), "--dataset", "synthetic",
        "--trainer-threads", "-1");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StreamTopology.trainerConfig(bad));
    assertTrue(e.getMessage().contains("trainer_threads") && e.getMessage().contains("-1"), e.getMessage());
    // a value with trailing text is not its leading number: "2 cores" is refused, not read as 2
    e = assertThrows(IllegalArgumentException.class, () -> StreamJobConfig.fromArgs("--output-dir", tmp.toString(),
        "--trainer-threads", "2 cores"));
    assertTrue(e.getMessage().contains("trainer_threads") && e.getMessage().contains("2 cores"), e.getMessage());
  }

  @Test
  void underFlinkRunTheContextEnvironmentsParallelismIsTheTrainers() {
    Configuration cluster = new Configuration();
    cluster.set(DeploymentOptions.TARGET, LocalExecutor.NAME);
    cluster.set(CoreOptions.DEFAULT_PARALLELISM, 3); // what `flink run -p 3` puts into the context's configuration
    StreamExecutionEnvironment submitted = new StreamContextEnvironment(new DefaultExecutorServiceLoader(), cluster,
        getClass().getClassLoader(), false, true);
    assertEquals(3, JobEnvironment.trainerParallelism(StreamJobConfig.fromArgs("--output-dir", tmp.toString()),
        submitted));
    assertEquals(2, JobEnvironment.trainerParallelism(StreamJobConfig.fromArgs("--output-dir", tmp.toString(),
        "--trainer-parallelism", "2"), submitted));
  }

  @Test
  void embeddedTheUnsetKeyResolvesToOne() {
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", tmp.toString());
    assertEquals(0, c.trainerParallelism, "unset");
    StreamExecutionEnvironment local = StreamExecutionEnvironment.createLocalEnvironment(4);
    assertEquals(1, JobEnvironment.trainerParallelism(c, local));
    JobEnvironment.environment(c); // the plain JVM's environment: local
    assertEquals(1, c.trainerParallelism);
    StreamJobConfig two = StreamJobConfig.fromArgs("--output-dir", tmp.toString(), "--parallelism", "2");
    JobEnvironment.environment(two);
    assertEquals(2, two.trainerParallelism);
  }

  @Test
  void replicaTimeoutAndPmlsEfficientFormAreJobKeys() {
    StreamJobConfig d = StreamJobConfig.fromArgs("--output-dir", tmp.toString());
    assertEquals(30.0, d.trainerReplicaTimeoutSeconds, "the default, well under Flink's 50 s heartbeat timeout");
    assertEquals(false, d.trainerEfficient, "PML's default: the replicas train as one trainer on the global batch");
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", tmp.toString(), "--trainer_replica_timeout_seconds",
        "7.5", "--trainer_efficient", "true");
    assertEquals(7.5, c.trainerReplicaTimeoutSeconds);
    assertEquals(true, c.trainerEfficient);
    for (String bad : new String[] {"0", "-1", "NaN"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StreamJobConfig.fromArgs(
          "--output-dir", tmp.toString(), "--trainer_replica_timeout_seconds", bad));
      assertTrue(e.getMessage().contains("trainer_replica_timeout_seconds"), e.getMessage());
    }
  }
}
