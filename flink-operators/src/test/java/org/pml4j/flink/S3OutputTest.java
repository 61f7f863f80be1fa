package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.FileSystem;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pml4j.onnx.ModelPublisher;
import org.pml4j.onnx.ModelPublisher.Manifest;
import org.pml4j.onnx.ModelPublisher.ModelEntry;

/**
 * The outputs on a real S3 endpoint: S3Proxy (in this JVM, a transient blob store, AWS v4 signatures) reached through
 * Flink's S3 file system ({@code flink-s3-fs-hadoop}, Hadoop S3A), configured as a Flink cluster would be
 * ({@code s3.endpoint}, {@code s3.path.style.access}, {@code s3.access-key}, {@code s3.secret-key}).
 */
class S3OutputTest {
  @RegisterExtension
  static final MiniClusterExtension MINI = TestSupport.miniCluster();

  private static final String BUCKET = "pml4j";
  private static S3Proxy proxy;

  @BeforeAll
  static void startS3() throws Exception {
    System.setProperty("aws.java.v1.disableDeprecationAnnouncement", "true");
    BlobStore store = BlobStores.create("transient", new Properties());
    store.createContainer(BUCKET);
    proxy = S3Proxy.builder().blobStore(store).endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "access", "secret").build();
    proxy.start();
    for (int i = 0; i < 500 && !"STARTED".equals(proxy.getState()); i++) {
      Thread.sleep(10);
    }
    Configuration conf = new Configuration();
    conf.setString("s3.endpoint", "http://127.0.0.1:" + proxy.getPort());
    conf.setString("s3.endpoint.region", "us-east-1");
    conf.setString("s3.path.style.access", "true");
    conf.setString("s3.access-key", "access");
    conf.setString("s3.secret-key", "secret");
    // the keys above only: no probing for EC2 instance credentials
    conf.setString("s3.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    FileSystem.initialize(conf, null);
  }

  @AfterAll
  static void stopS3() throws Exception {
    FileSystem.initialize(new Configuration(), null);
    if (proxy != null) {
      proxy.stop();
    }
  }

  private static byte[] payload(long v) {
    byte[] b = new byte[50_000 + (int) v * 1000];
    new Random(v).nextBytes(b);
    return b;
  }

  @Test
  void publishesModelsIntoABucket() throws Exception {
    FlinkModelStore store = new FlinkModelStore("s3://" + BUCKET + "/run-a/models");
    ModelPublisher pub = new ModelPublisher(store, 2);
    assertNull(ModelPublisher.readLatest(store));
    for (long v = 1; v <= 3; v++) {
      pub.publish(v, v * 10, payload(v));
    }
    Manifest m = ModelPublisher.readManifest(store);
    assertEquals(3, m.latest());
    assertEquals(List.of(3L, 2L), m.models().stream().map(ModelEntry::version).toList());
    assertEquals(List.of(ModelPublisher.MANIFEST, ModelPublisher.fileName(2), ModelPublisher.fileName(3)),
        store.list().stream().sorted().toList(), "version 1 pruned, no temporary objects");
    ModelPublisher.PublishedModel latest = ModelPublisher.readLatest(store);
    assertArrayEquals(payload(3), latest.bytes());
    assertEquals("s3://" + BUCKET + "/run-a/models/" + ModelPublisher.fileName(3), latest.location());
    // a second publisher (a restarted sink) continues the same manifest
    new ModelPublisher(store, 2).publish(4, 40, payload(4));
    assertEquals(4, ModelPublisher.readManifest(store).latest());
  }

  @Test
  void textLinesAppearAtCheckpointsAndARestartedWriterAppends() throws Exception {
    String uri = "s3://" + BUCKET + "/run-b/evaluations.jsonl";
    TextLinesSink sink = new TextLinesSink(uri);
    SinkWriter<String> w = sink.createWriter(null);
    w.write("{\"v\": 1}", null);
    w.write("{\"v\": 2}", null);
    assertEquals(List.of(), OutputFileSystem.readLines(uri), "nothing visible before the first checkpoint");
    w.flush(false); // a checkpoint
    assertEquals(List.of("{\"v\": 1}", "{\"v\": 2}"), OutputFileSystem.readLines(uri));
    w.write("{\"v\": 3}", null);
    assertEquals(2, OutputFileSystem.readLines(uri).size(), "the object changes only at checkpoints");
    w.close();
    assertEquals(3, OutputFileSystem.readLines(uri).size());
    SinkWriter<String> again = new TextLinesSink(uri).createWriter(null); // a restarted task
    again.write("{\"v\": 4}", null);
    again.flush(true);
    again.close();
    assertEquals(List.of("{\"v\": 1}", "{\"v\": 2}", "{\"v\": 3}", "{\"v\": 4}"), OutputFileSystem.readLines(uri));
  }

  /**
   * A job whose output location is an {@code s3://} URI checkpoints into {@code <location>/checkpoints} on S3: the
   * job configuration passes the URI through to Flink's checkpoint storage, which writes through the S3 plugin.
   */
  @Test
  void checkpointsGoToTheOutputUriOnS3() throws Exception {
    String out = "s3://" + BUCKET + "/run-d";
    StreamJobConfig c = StreamJobConfig.fromArgs("--output-dir", out);
    Configuration conf = JobEnvironment.jobConfiguration(c);
    assertEquals(out + "/checkpoints", conf.get(CheckpointingOptions.CHECKPOINTS_DIRECTORY));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.setParallelism(1);
    env.enableCheckpointing(100);
    env.fromSequence(1, Long.MAX_VALUE).map(v -> {
      Thread.sleep(5);
      return v;
    }).returns(Types.LONG).sinkTo(new DiscardingSink<>());
    JobClient job = env.executeAsync("checkpoints-to-s3");
    Path jobDir = new Path(out + "/checkpoints/" + job.getJobID());
    String metadata = null;
    byte[] bytes = null;
    try {
      for (int i = 0; i < 600 && bytes == null; i++) {
        Thread.sleep(100);
        for (String chk : OutputFileSystem.list(jobDir)) {
          if (bytes == null && chk.startsWith("chk-") && OutputFileSystem.exists(jobDir + "/" + chk + "/_metadata")) {
            metadata = jobDir + "/" + chk + "/_metadata";
            try {
              // read while the job runs: a newer checkpoint subsumes (deletes) this one, as the cancel may
              bytes = OutputFileSystem.read(new Path(metadata));
            } catch (java.nio.file.NoSuchFileException subsumed) {
              metadata = null; // gone between the listing and the read: take the next one
            }
          }
        }
      }
    } finally {
      job.cancel().get();
    }
    assertTrue(metadata != null, "a completed checkpoint under " + jobDir);
    assertTrue(bytes.length > 0);
  }

  /** The output directory's rules on a bucket prefix: a foreign prefix is refused, a run's own outputs deleted. */
  @Test
  void outputDirectoryRulesOnAPrefix() throws Exception {
    String foreign = "s3://" + BUCKET + "/foreign";
    OutputFileSystem.writeAtomically(foreign + "/important-model.onnx", new byte[] {1});
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OutputLocation.prepare(foreign, OutputLocationTest.MARKER, "ours", null, OutputLocationTest.OURS));
    assertTrue(e.getMessage().contains("is not empty and is not a pml4j stream output"), e.getMessage());
    assertEquals(List.of("important-model.onnx"), OutputFileSystem.list(OutputFileSystem.path(foreign)));

    String run = "s3://" + BUCKET + "/run-e";
    OutputLocation.prepare(run, OutputLocationTest.MARKER, "ours", null, OutputLocationTest.OURS);
    OutputFileSystem.writeAtomically(run + "/summary.json", new byte[] {2});
    OutputFileSystem.writeAtomically(run + "/notes.txt", new byte[] {3});
    OutputFileSystem.writeAtomically(run + "/models/manifest.json", new byte[] {4});
    OutputLocation.prepare(run, OutputLocationTest.MARKER, "ours", null, OutputLocationTest.OURS);
    assertEquals(List.of(OutputLocationTest.MARKER, "models", "notes.txt"), // models/: as on a disk, now empty
        OutputFileSystem.list(OutputFileSystem.path(run)).stream().sorted().toList());
    assertEquals(List.of(), OutputFileSystem.list(OutputFileSystem.path(run + "/models")));
  }

  @Test
  void reportFilesAreReplacedWhole() throws Exception {
    String uri = OutputFileSystem.child("s3://" + BUCKET + "/run-c/", "summary.json");
    OutputFileSystem.writeAtomically(uri, "{\"a\": 1}".getBytes(StandardCharsets.UTF_8));
    OutputFileSystem.writeAtomically(uri, "{\"a\": 2}".getBytes(StandardCharsets.UTF_8));
    assertEquals(List.of("{\"a\": 2}"), OutputFileSystem.readLines(uri));
    assertEquals(List.of("summary.json"), OutputFileSystem.list(OutputFileSystem.path("s3://" + BUCKET + "/run-c")));
    assertTrue(OutputFileSystem.exists(uri));
  }
}
