package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.onnx.ModelPublisher;

/**
 * The job's Kafka source against a real broker: Apache Kafka 4.2.0 (the version of the kafka-clients that
 * flink-connector-kafka brings) in KRaft mode, formatted and started as a child JVM from the test class path
 * ({@code kafka.tools.StorageTool format}, {@code kafka.Kafka}), and the whole streaming job in a MiniCluster reading
 * a 2-partition training topic and a held-out topic, bounded. The broker's data and logs and the job's outputs are in
 * a temporary directory that is removed after a passing run and kept after a failing one.
 */
class KafkaSourceTest {
  static final int DIM = 8;
  static final int VALID = 640;
  static final int HELDOUT = 200;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;
  private static Process broker;
  /** Ends the broker if this JVM exits without running {@link #stopBroker} (a killed or timed-out test run). */
  private static Thread brokerReaper;
  private static String bootstrap;

  @BeforeAll
  static void startBroker() throws Exception {
    int brokerPort = freePort();
    int controllerPort = freePort();
    bootstrap = "localhost:" + brokerPort;
    Path props = dir.resolve("server.properties");
    Files.writeString(props, String.join("\n",
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@localhost:" + controllerPort,
        "listeners=PLAINTEXT://localhost:" + brokerPort + ",CONTROLLER://localhost:" + controllerPort,
        "advertised.listeners=PLAINTEXT://localhost:" + brokerPort,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs=" + dir.resolve("data"),
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false", ""));
    Process format = java("kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(), "-c",
        props.toString()).redirectOutput(dir.resolve("format.log").toFile()).start();
    assertTrue(format.waitFor(120, TimeUnit.SECONDS) && format.exitValue() == 0,
        "kafka storage format failed: " + Files.readString(dir.resolve("format.log")));
    broker = java("kafka.Kafka", props.toString()).redirectOutput(dir.resolve("broker.log").toFile()).start();
    Process started = broker;
    brokerReaper = new Thread(started::destroyForcibly, "kafka-broker-reaper");
    Runtime.getRuntime().addShutdownHook(brokerReaper);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    try (Admin admin = admin()) {
      while (true) {
        assertTrue(broker.isAlive(), "the broker exited: " + tail(dir.resolve("broker.log")));
        try {
          if (!admin.describeCluster().nodes().get(2, TimeUnit.SECONDS).isEmpty()) {
            break;
          }
        } catch (Exception notYet) {
          assertTrue(System.nanoTime() < end, "the broker did not start: " + tail(dir.resolve("broker.log")));
        }
      }
      admin.createTopics(List.of(new NewTopic("train", 2, (short) 1), new NewTopic("heldout", 1, (short) 1)))
          .all().get(30, TimeUnit.SECONDS);
    }
  }

  @AfterAll
  static void stopBroker() throws Exception {
    if (broker != null && broker.isAlive()) {
      broker.destroy();
      if (!broker.waitFor(20, TimeUnit.SECONDS)) {
        broker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (brokerReaper != null) {
      Runtime.getRuntime().removeShutdownHook(brokerReaper);
    }
  }

  @Test
  void theJobTrainsFromKafkaAndRejectsBadRecords() throws Exception {
    SyntheticClusters gen = new SyntheticClusters(4, DIM, 0.5, 1.0, 11, 0, 0);
    SyntheticClusters held = gen.withIdOffset(1_000_000);
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
        new ByteArraySerializer())) {
      for (long i = 0; i < VALID; i++) {
        LabeledVector v = gen.map(i);
        // Spread over both partitions; the key keeps a record's partition stable.
        producer.send(new ProducerRecord<>("train", (int) (i % 2), bytes(Long.toString(i)),
            bytes(RecordParsers.toJson(v))));
        if (i == 100) { // bad records among the good ones
          float[] nan = gen.map(5_000L).features.clone();
          nan[3] = Float.NaN;
          producer.send(new ProducerRecord<>("train", 0, null, bytes(RecordParsers.toJson(
              new LabeledVector(9_001, 1L, nan)))));
          producer.send(new ProducerRecord<>("train", 1, null, bytes(RecordParsers.toJson(
              new LabeledVector(9_002, 1L, new float[DIM + 1])))));
          producer.send(new ProducerRecord<>("train", 0, null, bytes(RecordParsers.toJson(
              new LabeledVector(9_003, null, gen.map(5_001L).features)))));
          producer.send(new ProducerRecord<>("train", 1, null, bytes("{not json")));
        }
      }
      for (long i = 0; i < HELDOUT; i++) {
        producer.send(new ProducerRecord<>("heldout", null, bytes(RecordParsers.toJson(held.map(i)))));
      }
      producer.flush();
    }

    Path out = dir.resolve("job");
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", out.toString(), "--dataset", "kafka",
        "--dimension", Integer.toString(DIM), "--kafka.bootstrap-servers", bootstrap,
        "--kafka.train-topic", "train", "--kafka.heldout-topic", "heldout", "--kafka.group-id", "pml4j-test",
        "--kafka.bounded", "true", "--heldout-records", Integer.toString(HELDOUT), "--batch-size", "32",
        "--publish-every-steps", "10", "--evaluate", "every", "--checkpoint-interval-ms", "500",
        "--write-embeddings", "true",
        "--web-ui-port", "0", "--trainer", TrainerConfigs.toJson(TestSupport.tinyConfig(DIM, 4, 5)));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    JsonNode s = StreamingJob.run(c, TrainerFactory.DEFAULT, new PrintStream(log, true, StandardCharsets.UTF_8));

    // Every valid record reached the trainer exactly once: 640 samples in 20 steps of 32.
    assertEquals(20, s.path("final_step").asLong(), s.toString());
    assertEquals(VALID, s.path("samples").asLong(), s.toString());
    // Record by record for the queries (every 10th valid id, embedded with the newest model): each exactly once.
    List<Long> embedded = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve(StreamingJob.EMBEDDINGS))) {
      embedded.add(TestSupport.readJsonString(line).path("id").asLong());
    }
    embedded.sort(null);
    List<Long> queries = new ArrayList<>();
    for (long i = 0; i < VALID; i += 10) {
      queries.add(i);
    }
    assertEquals(queries, embedded);
    assertEquals(4, s.path("rejected").asLong(), s.toString());
    Map<Long, String> rejected = new TreeMap<>();
    for (String line : Files.readAllLines(out.resolve(StreamingJob.REJECTED))) {
      JsonNode n = TestSupport.readJsonString(line);
      rejected.put(n.path("id").asLong(), n.path("reason").asText());
    }
    // The unparseable value has no id: it gets partition << 48 | offset (partition 1 held the 50 odd i < 100 and
    // record 9002 before it).
    assertEquals(Map.of(9_001L, RejectedRecord.NON_FINITE, 9_002L, RejectedRecord.WRONG_DIMENSION,
        9_003L, RejectedRecord.MISSING_LABEL, (1L << 48) | 51, RejectedRecord.MALFORMED), rejected);
    // Versions at steps 0, 10, 20, each published and scored on the 200 held-out records.
    assertEquals(3, s.path("model_versions").asInt());
    assertEquals(2, ModelPublisher.readManifest(out.resolve(StreamingJob.MODELS)).latest());
    Map<Long, JsonNode> evals = new TreeMap<>();
    for (String line : Files.readAllLines(out.resolve(StreamingJob.EVALUATIONS))) {
      JsonNode n = TestSupport.readJsonString(line);
      evals.put(n.path("version").asLong(), n);
    }
    assertEquals(Set.of(0L, 1L, 2L), evals.keySet());
    for (JsonNode e : evals.values()) {
      assertEquals(HELDOUT, e.path("samples").asInt());
    }
    assertTrue(s.path("final").path("precision_at_1").asDouble() > s.path("untrained").path("precision_at_1")
        .asDouble(), s.toString());
  }

  // ---------------------------------------------------------------- helpers

  /** {@code java -cp <this test's class path> main args}, logging into the test directory. */
  private static ProcessBuilder java(String main, String... args) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-Dlog4j2.configurationFile=" + dir.resolve("log4j2.properties").toUri(),
        "-cp", System.getProperty("java.class.path"), main));
    cmd.addAll(List.of(args));
    try {
      Files.writeString(dir.resolve("log4j2.properties"), String.join("\n", "rootLogger.level = WARN",
          "rootLogger.appenderRef.out.ref = OUT", "appender.out.name = OUT", "appender.out.type = Console",
          "appender.out.layout.type = PatternLayout", "appender.out.layout.pattern = %d %-5p %c{1} - %m%n", ""));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return new ProcessBuilder(cmd).redirectErrorStream(true);
  }

  private static Admin admin() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
    return Admin.create(p);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String tail(Path p) {
    try {
      List<String> l = Files.readAllLines(p);
      return String.join("\n", l.subList(Math.max(0, l.size() - 40), l.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
