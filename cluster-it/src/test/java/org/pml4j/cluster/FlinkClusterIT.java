package org.pml4j.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The shaded job jar on a real Flink standalone session cluster: a JobManager JVM
 * ({@code StandaloneSessionClusterEntrypoint}) and a TaskManager JVM ({@code TaskManagerRunner}) started from Flink's
 * own jars only, with JVM sizes computed by Flink's {@code BashJavaUtils} as {@code bin/jobmanager.sh} and
 * {@code bin/taskmanager.sh} do, and the job submitted with Flink's {@code CliFrontend run} in a third JVM, which is
 * what {@code flink run} executes. The job is submitted twice into the same TaskManager: the second job's user-code
 * class loader is the native-library pitfall of DESIGN.md, avoided by the README's recipe (Bytedeco and ONNX Runtime
 * in {@code lib/}, {@code classloader.parent-first-patterns.additional: org.bytedeco.;ai.onnxruntime.}). Then a second
 * TaskManager JVM joins and the job runs with {@code flink run -p 2}: the trainer's two data-parallel replicas (issue
 * 13), one slot per TaskManager, run in different JVMs and meet through the output directory and c10d's Gloo.
 *
 * <p>The cluster's {@code lib/} and the job jar are prepared by this module's build ({@code target/flink}).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FlinkClusterIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The JVM options of Flink's default config.yaml for Java 17 ({@code env.java.default-opts.all}). */
  private static final List<String> JAVA17_OPTS = List.of(
      "--add-exports=java.base/sun.net.util=ALL-UNNAMED", "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
      "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
      "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.net=ALL-UNNAMED",
      "--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
      "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
      "--add-opens=java.base/java.text=ALL-UNNAMED", "--add-opens=java.base/java.time=ALL-UNNAMED",
      "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED");

  private static Path lib;
  private static Path jobJar;
  private static Path work;
  private static Path conf;
  private static int restPort;
  /** The cluster's checkpoint interval (config.yaml); the job is submitted with --checkpoint-interval-ms 1000. */
  private static final long CLUSTER_CHECKPOINT_MS = 1700;

  private static Process jobManager;
  private static Process taskManager;
  private static Process taskManager2;

  @BeforeAll
  static void startCluster() throws Exception {
    jobJar = Path.of(System.getProperty("pml4j.cluster.jobJar", "target/flink/pml4j-job.jar"));
    assumeTrue(Files.isRegularFile(jobJar), "no job jar at " + jobJar + " (built without -Dpml4j.jobJar.skip=true?)");
    lib = Path.of(System.getProperty("pml4j.cluster.lib", "target/flink/lib"));
    assertTrue(Files.isDirectory(lib), "no cluster lib/ at " + lib);
    work = Path.of(System.getProperty("pml4j.cluster.work", "target/flink/run")).toAbsolutePath();
    deleteTree(work);
    conf = Files.createDirectories(work.resolve("conf"));
    Files.createDirectories(work.resolve("log"));
    restPort = freePort();
    Files.writeString(conf.resolve("config.yaml"), String.join("\n",
        "jobmanager.rpc.address: localhost",
        "jobmanager.rpc.port: " + freePort(),
        "jobmanager.bind-host: localhost",
        "jobmanager.memory.process.size: 1024m",
        "taskmanager.bind-host: localhost",
        "taskmanager.host: localhost",
        "taskmanager.memory.process.size: 1728m",
        // One slot per TaskManager: a job at parallelism 2 spans both TaskManager JVMs (the data-parallel test).
        "taskmanager.numberOfTaskSlots: 1",
        "rest.address: localhost",
        "rest.bind-address: localhost",
        "rest.port: " + restPort,
        "parallelism.default: 1",
        // A cluster setting that the job must keep (its own checkpoint_interval_ms is only a default).
        "execution.checkpointing.interval: " + CLUSTER_CHECKPOINT_MS + "ms",
        // The cluster recipe: one copy of LibTorch and ONNX Runtime per TaskManager JVM, loaded by the parent.
        "classloader.parent-first-patterns.additional: org.bytedeco.;ai.onnxruntime.",
        ""));
    Files.writeString(conf.resolve("log4j.properties"), String.join("\n",
        "rootLogger.level = INFO", "rootLogger.appenderRef.file.ref = FileAppender",
        "appender.file.name = FileAppender", "appender.file.type = FILE", "appender.file.fileName = ${sys:log.file}",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = %d{HH:mm:ss,SSS} %-5p %-40c{1} - %m%n", ""));

    List<String> jm = new ArrayList<>(java("jobmanager"));
    List<String[]> jmParams = resourceParams("GET_JM_RESOURCE_PARAMS");
    jm.addAll(1, List.of(jmParams.get(0)));
    jm.add("org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint");
    jm.addAll(List.of("--configDir", conf.toString()));
    if (jmParams.size() > 1) {
      jm.addAll(List.of(jmParams.get(1)));
    }
    jobManager = start(jm, "jobmanager");
    waitFor(() -> rest("/overview") != null, 90, "the JobManager's REST API", jobManager);

    taskManager = startTaskManager("taskmanager", 1);
  }

  /**
   * Starts a TaskManager JVM (logs {@code log/<name>.log}) and waits until {@code count} TaskManagers are registered.
   */
  private static Process startTaskManager(String name, int count) throws Exception {
    List<String> tm = new ArrayList<>(java(name));
    List<String[]> tmParams = resourceParams("GET_TM_RESOURCE_PARAMS");
    tm.addAll(1, List.of(tmParams.get(0)));
    tm.add("org.apache.flink.runtime.taskexecutor.TaskManagerRunner");
    tm.addAll(List.of("--configDir", conf.toString()));
    tm.addAll(List.of(tmParams.get(1)));
    Process p = start(tm, name);
    waitFor(() -> {
      JsonNode o = rest("/overview");
      return o != null && o.path("taskmanagers").asInt() == count && o.path("slots-available").asInt() == count;
    }, 90, name + " to register", p);
    return p;
  }

  @AfterAll
  static void stopCluster() throws Exception {
    for (Process p : new Process[] {taskManager2, taskManager, jobManager}) {
      if (p != null && p.isAlive()) {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  @Test
  @Order(1)
  void theJobJarRunsTwiceInOneTaskManagerWithFlinkRun() throws Exception {
    String tmId = rest("/taskmanagers").path("taskmanagers").get(0).path("id").asText();
    for (int run = 1; run <= 2; run++) {
      Path out = work.resolve("out-" + run);
      List<String> cmd = new ArrayList<>(java("client-" + run));
      cmd.add("org.apache.flink.client.cli.CliFrontend");
      cmd.addAll(List.of("run", jobJar.toAbsolutePath().toString(),
          "--dataset", "synthetic", "--output-dir", out.toString(), "--train-records", "2400",
          "--heldout-records", "300", "--batch-size", "32", "--publish-every-steps", "25",
          "--checkpoint-interval-ms", "1000", "--evaluate", "every"));
      flinkRun(cmd, "client-" + run);

      // 2400 records, batches of 32: 75 steps; versions at steps 0, 25, 50, 75 (the last also at the end of input).
      Map<Long, JsonNode> updates = byVersion(out.resolve("model_updates.jsonl"));
      Map<Long, JsonNode> evals = byVersion(out.resolve("evaluations.jsonl"));
      assertEquals(List.of(0L, 1L, 2L, 3L), new ArrayList<>(updates.keySet()), "published versions of run " + run);
      assertEquals(75, updates.get(3L).path("step").asLong());
      assertEquals(updates.keySet(), evals.keySet(), "evaluate=every scores every version");
      double untrained = evals.get(0L).path("precision_at_1").asDouble();
      double last = evals.get(3L).path("precision_at_1").asDouble();
      assertTrue(last > untrained, "run " + run + ": trained P@1 " + last + " <= untrained " + untrained);
      JsonNode manifest = JSON.readTree(out.resolve("models").resolve("manifest.json").toFile());
      assertEquals(3, manifest.path("latest").asLong(), manifest.toString());
      try (Stream<Path> models = Files.list(out.resolve("models"))) {
        assertEquals(4, models.filter(p -> p.toString().endsWith(".onnx")).count());
      }
      assertTrue(taskManager.isAlive(), "the TaskManager JVM died during run " + run + logs());
    }
    JsonNode tms = rest("/taskmanagers").path("taskmanagers");
    assertEquals(1, tms.size());
    assertEquals(tmId, tms.get(0).path("id").asText(), "both jobs ran in the same TaskManager");
    JsonNode jobs = rest("/jobs/overview").path("jobs");
    long finished = 0;
    for (JsonNode j : jobs) {
      if ("FINISHED".equals(j.path("state").asText())) {
        finished++;
      }
    }
    assertEquals(2, finished, jobs.toString());
    for (JsonNode j : jobs) {
      String jid = j.path("jid").asText();
      // The cluster's configuration wins over the job's defaults.
      assertEquals(CLUSTER_CHECKPOINT_MS, rest("/jobs/" + jid + "/checkpoints/config").path("interval").asLong());
      // The job's configuration is in the global job parameters (the Web UI's Configuration tab).
      JsonNode user = rest("/jobs/" + jid + "/config").path("execution-config").path("user-config");
      assertEquals("32", user.path("batch_size").asText(), user.toString());
      assertEquals("every", user.path("evaluate").asText(), user.toString());
      // The job graph names the trainer.
      StringBuilder names = new StringBuilder();
      rest("/jobs/" + jid).path("vertices").forEach(v -> names.append(v.path("name").asText()).append(" | "));
      assertTrue(names.toString().contains("pml4j-trainer"), names.toString());
    }
    String tmLog = Files.readString(work.resolve("log/taskmanager.log"));
    assertFalse(tmLog.contains("UnsatisfiedLinkError"), "a native library was loaded twice");
    try (Stream<Path> s = Files.list(work)) {
      assertFalse(s.anyMatch(p -> p.getFileName().toString().startsWith("hs_err")), "a JVM crashed");
    }
  }

  /**
   * {@code flink run -p 2}: trainer_parallelism is unset, so the trainer takes the job's parallelism (2); with one slot
   * per TaskManager its replicas run in two TaskManager JVMs. Rank 0 publishes every version once, with the replicas'
   * parameter hashes compared ({@code replicas_identical}, the figure summary.json reports).
   */
  @Test
  @Order(2)
  void theTrainersReplicasRunInTwoTaskManagerJvmsWithFlinkRunP2() throws Exception {
    taskManager2 = startTaskManager("taskmanager-2", 2);
    Path out = work.resolve("out-p2");
    List<String> cmd = new ArrayList<>(java("client-p2"));
    cmd.add("org.apache.flink.client.cli.CliFrontend");
    cmd.addAll(List.of("run", "-p", "2", jobJar.toAbsolutePath().toString(),
        "--dataset", "synthetic", "--output-dir", out.toString(), "--train-records", "2400",
        "--heldout-records", "300", "--batch-size", "32", "--publish-every-steps", "25",
        "--checkpoint-interval-ms", "1000", "--evaluate", "none"));
    flinkRun(cmd, "client-p2");

    // 2400 records, global batches of 32 (16 per replica): 75 steps; versions at steps 0, 25, 50, 75.
    Map<Long, JsonNode> updates = byVersion(out.resolve("model_updates.jsonl"));
    assertEquals(List.of(0L, 1L, 2L, 3L), new ArrayList<>(updates.keySet()), "published versions (once each)");
    assertEquals(75, updates.get(3L).path("step").asLong());
    for (JsonNode u : updates.values()) {
      JsonNode m = u.path("metrics");
      assertEquals(2, m.path("parallelism").asInt(), u.toString());
      assertEquals(1.0, m.path("replicas_identical").asDouble(), "replica hashes differ: " + u);
    }
    assertEquals(2400, updates.get(3L).path("metrics").path("samples").asLong(), "both replicas' records, once");
    // The attached client waited for the job and wrote summary.json, as an embedded run does.
    JsonNode summary = JSON.readTree(out.resolve("summary.json").toFile());
    assertEquals(2, summary.path("parallelism").asInt(), summary.toString());
    assertTrue(summary.path("replicas_identical").asBoolean(false), summary.toString());
    assertEquals(4, summary.path("model_versions").asInt(), summary.toString());
    assertTrue(summary.path("wall_samples_per_sec").asDouble() > 0, summary.toString());
    JsonNode manifest = JSON.readTree(out.resolve("models").resolve("manifest.json").toFile());
    assertEquals(3, manifest.path("latest").asLong(), manifest.toString());
    try (Stream<Path> models = Files.list(out.resolve("models"))) {
      assertEquals(4, models.filter(p -> p.toString().endsWith(".onnx")).count());
    }

    // The two replicas ran in different TaskManager JVMs.
    String jid = null;
    long newest = Long.MIN_VALUE;
    for (JsonNode j : rest("/jobs/overview").path("jobs")) { // the newest job: this one
      if (j.path("start-time").asLong() > newest) {
        newest = j.path("start-time").asLong();
        jid = j.path("jid").asText();
      }
    }
    java.util.Set<String> trainerTms = new java.util.TreeSet<>();
    for (JsonNode v : rest("/jobs/" + jid).path("vertices")) {
      if (v.path("name").asText().contains("pml4j-trainer")) {
        assertEquals(2, v.path("parallelism").asInt(), v.toString());
        rest("/jobs/" + jid + "/vertices/" + v.path("id").asText()).path("subtasks")
            .forEach(t -> trainerTms.add(t.path("taskmanager-id").asText()));
      }
    }
    assertEquals(2, trainerTms.size(), "trainer subtasks' TaskManagers: " + trainerTms);
    String log1 = Files.readString(work.resolve("log/taskmanager.log"));
    String log2 = Files.readString(work.resolve("log/taskmanager-2.log"));
    assertTrue((log1.contains("replica 0 of 2 joined") && log2.contains("replica 1 of 2 joined"))
        || (log1.contains("replica 1 of 2 joined") && log2.contains("replica 0 of 2 joined")),
        "each TaskManager JVM hosts one replica" + logs());
    assertTrue(taskManager.isAlive() && taskManager2.isAlive(), "a TaskManager JVM died" + logs());
  }

  // ---------------------------------------------------------------- processes

  /**
   * Runs Flink's {@code CliFrontend} ({@code cmd}) with the cluster's conf dir; fails with the logs unless it succeeds.
   */
  private static void flinkRun(List<String> cmd, String name) throws Exception {
    Path clientLog = work.resolve("log/" + name + ".out");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(clientLog.toFile());
    pb.environment().put("FLINK_CONF_DIR", conf.toString());
    Process client = pb.start();
    boolean ended = client.waitFor(240, TimeUnit.SECONDS);
    if (!ended) {
      client.destroyForcibly();
    }
    String printed = Files.readString(clientLog);
    assertTrue(ended && client.exitValue() == 0, "flink run (" + name + ") failed:\n" + tail(printed) + logs());
    assertTrue(printed.contains("pml4j stream: job"), printed);
  }

  /** {@code java <Java 17 opts> -Dlog.file=... -cp lib/*} (the main class and its arguments follow). */
  private static List<String> java(String name) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(JAVA17_OPTS);
    cmd.add("-Dlog.file=" + work.resolve("log").resolve(name + ".log"));
    cmd.add("-Dlog4j.configurationFile=" + conf.resolve("log4j.properties").toUri());
    String cache = System.getProperty("pml4j.cluster.javacppCache");
    if (cache != null && !cache.isBlank()) {
      cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
    }
    cmd.add("-cp");
    cmd.add(lib.toAbsolutePath() + "/*");
    return cmd;
  }

  /**
   * Flink's own sizing of a process ({@code BashJavaUtils GET_JM_RESOURCE_PARAMS} / {@code GET_TM_RESOURCE_PARAMS}):
   * the JVM options, then (TaskManager) the dynamic configuration arguments.
   */
  private static List<String[]> resourceParams(String command) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", lib.toAbsolutePath() + "/*", "org.apache.flink.runtime.util.bash.BashJavaUtils", command,
        "--configDir", conf.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, command + " failed:\n" + out);
    List<String[]> lines = new ArrayList<>();
    for (String line : out.split("\n")) {
      if (line.startsWith("BASH_JAVA_UTILS_EXEC_RESULT:")) {
        String v = line.substring("BASH_JAVA_UTILS_EXEC_RESULT:".length()).trim();
        lines.add(v.isEmpty() ? new String[0] : v.split("\\s+"));
      }
    }
    assertFalse(lines.isEmpty(), command + " printed no result:\n" + out);
    return lines;
  }

  private static Process start(List<String> cmd, String name) throws IOException {
    return new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(work.resolve("log").resolve(name + ".out").toFile()).start();
  }

  interface Check {
    boolean ok() throws Exception;
  }

  private static void waitFor(Check c, int seconds, String what, Process p) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < end) {
      if (!p.isAlive()) {
        throw new AssertionError(what + ": the process exited with " + p.exitValue() + logs());
      }
      if (c.ok()) {
        return;
      }
      Thread.sleep(250);
    }
    throw new AssertionError("timed out waiting for " + what + logs());
  }

  /** GET on the cluster's REST API, or null when it does not answer (yet). */
  private static JsonNode rest(String path) {
    try {
      HttpURLConnection c = (HttpURLConnection) URI.create("http://localhost:" + restPort + path).toURL()
          .openConnection();
      c.setConnectTimeout(1000);
      c.setReadTimeout(5000);
      if (c.getResponseCode() != 200) {
        return null;
      }
      try (InputStream in = c.getInputStream()) {
        return JSON.readTree(in);
      }
    } catch (IOException e) {
      return null;
    }
  }

  // ---------------------------------------------------------------- files

  private static Map<Long, JsonNode> byVersion(Path jsonl) throws IOException {
    Map<Long, JsonNode> m = new TreeMap<>();
    assertTrue(Files.exists(jsonl), jsonl + " missing" + logs());
    for (String line : Files.readAllLines(jsonl)) {
      if (!line.isBlank()) {
        JsonNode n = JSON.readTree(line);
        m.put(n.path("version").asLong(), n);
      }
    }
    return m;
  }

  /** The tails of the cluster's logs, for a failure message. */
  private static String logs() {
    StringBuilder sb = new StringBuilder();
    try (Stream<Path> s = Files.list(work.resolve("log"))) {
      for (Path p : s.sorted().toList()) {
        sb.append("\n---- ").append(p.getFileName()).append(" (tail)\n").append(tail(Files.readString(p)));
      }
    } catch (IOException | UncheckedIOException e) {
      sb.append("\n(logs unreadable: ").append(e).append(')');
    }
    return sb.toString();
  }

  private static String tail(String s) {
    String[] lines = s.split("\n");
    return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 40), lines.length));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(f);
      }
    }
  }
}
