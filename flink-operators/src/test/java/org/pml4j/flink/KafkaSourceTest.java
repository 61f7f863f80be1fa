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
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.onnx.ModelPublisher;
import org.pml4j.data.SyntheticClusters;

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
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.5, 1.0, 11), 0, 0);
    GeneratedRecords held = gen.withIdOffset(1_000_000);
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
    // The job's output topics (created after the input is written: the broker is busy electing leaders at first).
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic("embeddings", 1, (short) 1), new NewTopic("model-updates", 1,
          (short) 1))).all().get(30, TimeUnit.SECONDS);
    }

    Path out = dir.resolve("job");
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", out.toString(), "--dataset", "kafka",
        "--dimension", Integer.toString(DIM), "--kafka.bootstrap-servers", bootstrap,
        "--kafka.train-topic", "train", "--kafka.heldout-topic", "heldout", "--kafka.group-id", "pml4j-test",
        "--kafka.bounded", "true", "--heldout-records", Integer.toString(HELDOUT), "--batch-size", "32",
        "--publish-every-steps", "10", "--evaluate", "every", "--checkpoint-interval-ms", "500",
        "--write-embeddings", "true", "--kafka.embeddings-topic", "embeddings",
        "--kafka.model-updates-topic", "model-updates",
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

    // The Kafka sinks: every embedding (keyed by id) and every model version (keyed by version) in their topics.
    Map<String, JsonNode> kafkaEmbeddings = consume("embeddings", queries.size());
    assertEquals(queries.size(), kafkaEmbeddings.size());
    for (Long id : queries) {
      JsonNode e = kafkaEmbeddings.get(Long.toString(id));
      assertEquals(id, e.path("id").asLong(), kafkaEmbeddings.toString());
      assertEquals(4, e.path("vector").size(), e.toString());
    }
    Map<String, JsonNode> kafkaUpdates = consume("model-updates", 3);
    assertEquals(Set.of("0", "1", "2"), kafkaUpdates.keySet());
    assertEquals(ModelPublisher.fileName(2), kafkaUpdates.get("2").path("model_file").asText());
    assertEquals(20, kafkaUpdates.get("2").path("step").asLong());
  }

  /**
   * The retrieval index fed from Kafka (catalog and query topics, JSON) while the encoder trains on the synthetic
   * stream, with its answers sent to a Kafka topic: one answer per valid query, each in one model version (its scores
   * are those of that version's published ONNX model for the query and every returned item; an answer given once the
   * whole catalog was applied is also checked to be the exact k-NN, but in the runs so far every query was answered
   * while the catalog topic was still being read); the shards end with the final catalog; bad records rejected with
   * reasons.
   */
  @Test
  void retrievalReadsCatalogAndQueriesFromKafkaAndAnswersToKafka() throws Exception {
    GeneratedRecords gen = GeneratedRecords.synthetic(new SyntheticClusters(4, DIM, 0.5, 1.0, 12), 0, 0);
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic("retrieval-catalog", 2, (short) 1),
          new NewTopic("retrieval-queries", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }
    Map<Long, float[]> items = new TreeMap<>();
    Map<Long, float[]> queries = new TreeMap<>();
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
        new ByteArraySerializer())) {
      for (long id = 0; id < 300; id++) { // keyed by id: an item's records stay in order in one partition
        LabeledVector v = gen.map(id);
        items.put(id, v.features);
        producer.send(new ProducerRecord<>("retrieval-catalog", bytes(Long.toString(id)), bytes(
            "{\"id\":" + id + ",\"vector\":" + java.util.Arrays.toString(v.features) + ",\"label\":" + v.label
            + "}")));
      }
      for (long id = 0; id < 20; id++) {
        items.remove(id);
        producer.send(new ProducerRecord<>("retrieval-catalog", bytes(Long.toString(id)), bytes(
            "{\"id\":" + id + ",\"op\":\"delete\"}")));
      }
      String good = java.util.Arrays.toString(gen.map(9_000L).features);
      for (String bad : List.of("{not json", "{\"id\":9001,\"vector\":[1,2,3]}", "{\"vector\":" + good + "}",
          "{\"id\":9003,\"vector\":" + good + ",\"op\":\"merge\"}")) {
        producer.send(new ProducerRecord<>("retrieval-catalog", bytes("bad"), bytes(bad)));
      }
      for (long q = 0; q < 40; q++) {
        float[] v = gen.map(1_000_000 + q).features;
        queries.put(q, v);
        producer.send(new ProducerRecord<>("retrieval-queries", null, bytes(
            "{\"qid\":" + q + ",\"vector\":" + java.util.Arrays.toString(v) + ",\"k\":5}")));
      }
      queries.put(1001L, gen.map(1_000_100L).features); // k left out: retrieval.k (10)
      producer.send(new ProducerRecord<>("retrieval-queries", null, bytes(
          "{\"qid\":1001,\"vector\":" + java.util.Arrays.toString(queries.get(1001L)) + "}")));
      producer.send(new ProducerRecord<>("retrieval-queries", null, bytes("{\"qid\":1000,\"vector\":" + good
          + ",\"k\":0}")));
      producer.send(new ProducerRecord<>("retrieval-queries", null, bytes("[1,2]")));
      producer.flush();
    }
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic("retrieval-answers", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }

    Path out = dir.resolve("retrieval-job");
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", out.toString(), "--dataset", "synthetic",
        "--synthetic.dimension", Integer.toString(DIM), "--synthetic.classes", "4", "--train-records", "640",
        "--batch-size", "32", "--publish-every-steps", "5", "--evaluate", "none", "--checkpoint-interval-ms", "500",
        "--kafka.bootstrap-servers", bootstrap, "--kafka.group-id", "pml4j-retrieval-test", "--kafka.bounded", "true",
        "--retrieval.enabled", "true", "--retrieval.catalog-topic", "retrieval-catalog",
        "--retrieval.query-topic", "retrieval-queries", "--retrieval.answers-topic", "retrieval-answers",
        "--web-ui-port", "0", "--trainer", TrainerConfigs.toJson(TestSupport.tinyConfig(DIM, 4, 5)));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    JsonNode s = StreamingJob.run(c, TrainerFactory.DEFAULT, new PrintStream(log, true, StandardCharsets.UTF_8));

    JsonNode r = s.path("retrieval");
    assertEquals(items.size(), r.path("catalog_items").asLong(), r.toString());
    assertEquals(queries.size(), r.path("queries").asLong(), r.toString());
    assertEquals(queries.size(), r.path("unchecked_answers").asLong(), "the job cannot re-read Kafka: " + r);
    List<String> reasons = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve(RetrievalStage.REJECTED))) {
      reasons.add(TestSupport.readJsonString(line).path("reason").asText());
    }
    reasons.sort(null);
    assertEquals(List.of(RetrievalValidation.BAD_OP, RetrievalValidation.K_OUT_OF_RANGE, RejectedRecord.MALFORMED,
        RejectedRecord.MALFORMED, RetrievalValidation.MISSING_ID, RejectedRecord.WRONG_DIMENSION), reasons);

    Map<String, JsonNode> answers = consume("retrieval-answers", queries.size());
    assertEquals(queries.size(), answers.size(), answers.keySet().toString());
    int exact = 0;
    for (Map.Entry<Long, float[]> q : queries.entrySet()) {
      JsonNode a = answers.get(Long.toString(q.getKey()));
      long v = a.path("model_version").asLong();
      byte[] onnx = Files.readAllBytes(out.resolve(StreamingJob.MODELS).resolve(ModelPublisher.fileName(v)));
      int k = q.getKey() == 1001 ? 10 : 5;
      JsonNode ids = a.path("ids");
      JsonNode scores = a.path("scores");
      if (a.path("catalog_ops").asLong() == 320) { // the whole catalog applied: exact k-NN over the final items
        double[] expected = new double[k];
        long[] top = RetrievalTestSupport.bruteForce(onnx, items, q.getValue(), k, expected)[0];
        assertEquals(k, ids.size(), a.toString());
        for (int i = 0; i < k; i++) {
          assertEquals(top[i], ids.get(i).asLong(), a.toString());
          assertEquals(expected[i], scores.get(i).asDouble(), 1e-5, a.toString());
        }
        exact++;
      } else { // earlier: still every score of one version (each id's vector is unique)
        for (int i = 0; i < ids.size(); i++) {
          Map<Long, float[]> one = Map.of(ids.get(i).asLong(), gen.map(ids.get(i).asLong()).features);
          double[] sc = new double[1];
          RetrievalTestSupport.bruteForce(onnx, one, q.getValue(), 1, sc);
          assertEquals(sc[0], scores.get(i).asDouble(), 1e-5, a.toString());
        }
      }
    }
    // (Whether any query comes after the whole catalog depends on how the two topics are interleaved: the exact
    // k-NN over a final catalog is asserted in RetrievalJobTest; here the final catalog is catalog_items above.)
    System.out.println("retrieval from Kafka: " + exact + " of " + answers.size() + " answers after the whole catalog");
  }

  /** Reads {@code topic} from the start until {@code expected} distinct keys are seen (or 30 s pass): key -> value. */
  private static Map<String, JsonNode> consume(String topic, int expected) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "check-" + topic);
    Map<String, JsonNode> out = new TreeMap<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (out.size() < expected && System.nanoTime() < end) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(java.time.Duration.ofMillis(500))) {
          out.put(new String(r.key(), StandardCharsets.UTF_8),
              TestSupport.readJsonString(new String(r.value(), StandardCharsets.UTF_8)));
        }
      }
    }
    return out;
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
