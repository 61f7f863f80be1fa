package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.pml4j.data.RecordParser;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.train.TrainerConfig;
import org.pml4j.data.FashionMnist;
import org.pml4j.data.SyntheticClusters;

/** Record types, parsers, generators, Fashion-MNIST reading and the job config, without a cluster. */
class RecordsAndSourcesTest {
  @TempDir
  Path tmp;

  @Test
  void recordTypesArePojos() {
    for (Class<?> c : List.of(LabeledVector.class, ModelUpdate.class, Embedding.class, RejectedRecord.class,
        EvalResult.class)) {
      TypeInformation<?> t = TypeInformation.of(c);
      assertTrue(t instanceof PojoTypeInfo, c + " is " + t);
      // Creating the serializer with generic types disabled fails if any field would need Kryo.
      SerializerConfigImpl sc = new SerializerConfigImpl();
      sc.setGenericTypes(false);
      t.createSerializer(sc);
    }
  }

  @Test
  void jsonLines() {
    LabeledVector v = RecordParsers.parseJson("{\"id\": 5, \"label\": 2, \"vector\": [1.5, -2, 3e-1]}", 9);
    assertEquals(5, v.id);
    assertEquals(2L, v.label);
    assertArrayEquals(new float[] {1.5f, -2f, 0.3f}, v.features);
    LabeledVector w = RecordParsers.parseJson("{\"features\": [1, \"x\"], \"label\": \"3\"}", 9);
    assertEquals(9, w.id);
    assertEquals(3L, w.label);
    assertTrue(Float.isNaN(w.features[1]));
    assertEquals(RejectedRecord.MALFORMED, w.parseReason);
    assertEquals("feature 1 is not a number: 'x'", w.parseDetail);
    LabeledVector bad = RecordParsers.parseJson("{oops", 4);
    assertEquals(4, bad.id);
    assertNull(bad.features);
    assertNull(bad.label);
    assertEquals(RejectedRecord.MALFORMED, bad.parseReason);
    assertTrue(bad.parseDetail.startsWith("not JSON: "), bad.parseDetail);
    LabeledVector round = RecordParsers.parseJson(RecordParsers.toJson(v), 0);
    assertEquals(v, round);
  }

  @Test
  void csv() {
    assertNull(RecordParser.headerLayout("1,0.5,NaN,", "1,2,3,4"));
    RecordParser.CsvLayout h = RecordParser.headerLayout("x0,label,x1,id", null);
    assertEquals(new RecordParser.CsvLayout(3, 1), h);
    LabeledVector v = RecordParsers.parseCsv("0.5,7,0.25,42", h, 0);
    assertEquals(42, v.id);
    assertEquals(7L, v.label);
    assertArrayEquals(new float[] {0.5f, 0.25f}, v.features);
    LabeledVector d = RecordParsers.parseCsv(",1,2", RecordParser.CsvLayout.DEFAULT, 3);
    assertEquals(3, d.id);
    assertNull(d.label);
    assertArrayEquals(new float[] {1f, 2f}, d.features);
    LabeledVector r = RecordParsers.parseCsv(RecordParsers.toCsv(v), RecordParser.CsvLayout.DEFAULT, 42);
    assertEquals(v, r);
  }

  @Test
  void kafkaDeserializer() throws Exception {
    LabeledVectorKafkaDeserializer d = new LabeledVectorKafkaDeserializer();
    List<LabeledVector> out = new ArrayList<>();
    org.apache.flink.util.Collector<LabeledVector> c = new org.apache.flink.util.Collector<>() {
      @Override
      public void collect(LabeledVector record) {
        out.add(record);
      }

      @Override
      public void close() {}
    };
    d.deserialize(new ConsumerRecord<>("t", 2, 17, null,
        "{\"label\": 1, \"vector\": [0.5]}".getBytes(StandardCharsets.UTF_8)), c);
    d.deserialize(new ConsumerRecord<>("t", 0, 3, null, "{\"id\": 8, \"label\": 1, \"vector\": [1]}"
        .getBytes(StandardCharsets.UTF_8)), c);
    d.deserialize(new ConsumerRecord<byte[], byte[]>("t", 0, 4, null, null), c); // tombstone
    assertEquals(2, out.size());
    assertEquals((2L << 48) | 17, out.get(0).id);
    assertEquals(8, out.get(1).id);
    assertTrue(d.getProducedType() instanceof PojoTypeInfo);
    assertEquals(org.apache.flink.api.connector.source.Boundedness.BOUNDED,
        Sources.kafka("localhost:9092", "t", "g", true).getBoundedness());
    assertEquals(org.apache.flink.api.connector.source.Boundedness.CONTINUOUS_UNBOUNDED,
        Sources.kafka("localhost:9092", "t", "g", false).getBoundedness());
  }

  @Test
  void syntheticIsDeterministicPerId() {
    GeneratedRecords g = GeneratedRecords.synthetic(new SyntheticClusters(5, 6, 0.3, 1.0, 42), 0, 0);
    GeneratedRecords h = GeneratedRecords.synthetic(new SyntheticClusters(5, 6, 0.3, 1.0, 42), 0, 0);
    for (long i = 0; i < 50; i++) {
      assertEquals(g.map(i), h.map(i));
    }
    assertEquals(g.map(7L), h.map(7L)); // any order
    assertNotEquals(g.map(7L), g.withIdOffset(1000).map(7L));
    Set<Long> labels = new HashSet<>();
    for (long i = 0; i < 200; i++) {
      labels.add(g.map(i).label);
    }
    assertEquals(Set.of(0L, 1L, 2L, 3L, 4L), labels);
    GeneratedRecords bad = g.withCorruptEvery(4);
    assertTrue(Float.isNaN(bad.map(3L).features[0]) || hasNaN(bad.map(3L).features));
    assertNull(bad.map(7L).label);
    assertEquals(5, bad.map(11L).features.length);
    assertEquals(g.map(5L), bad.map(5L));
  }

  private static boolean hasNaN(float[] f) {
    for (float x : f) {
      if (Float.isNaN(x)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void fashionMnistMissingNamesTheDebianPackage() {
    java.io.UncheckedIOException e = assertThrows(java.io.UncheckedIOException.class,
        () -> Sources.fashionMnist(tmp, FashionMnist.Split.TRAIN, 10, null, 0, 0));
    assertTrue(e.getMessage().contains("dataset-fashion-mnist"), e.getMessage());
  }

  @Test
  void fashionMnistReadsTheIdxFiles() {
    Path dir = Path.of(FashionMnist.DEFAULT_DIR);
    assumeTrue(FashionMnist.isPresent(dir, FashionMnist.Split.TEST), "dataset-fashion-mnist missing");
    FashionMnist.Images d = FashionMnist.images(dir, FashionMnist.Split.TEST);
    assertEquals(10_000, d.count());
    int[] perClass = new int[10];
    for (int i = 0; i < d.count(); i++) {
      perClass[d.label(i)]++;
    }
    for (int c : perClass) {
      assertEquals(1000, c);
    }
    assertEquals(9, d.label(0)); // t10k's first image is an ankle boot
    GeneratedRecords gen = GeneratedRecords.fashionMnist(dir, FashionMnist.Split.TEST, true, 3, 100);
    LabeledVector v = gen.map(0L);
    assertEquals(784, v.features.length);
    float max = 0;
    for (float x : v.features) {
      assertTrue(x >= 0 && x <= 1);
      max = Math.max(max, x);
    }
    assertTrue(max > 0.5f);
    assertEquals(v, GeneratedRecords.fashionMnist(dir, FashionMnist.Split.TEST, true, 3, 100).map(0L));
  }

  @Test
  void fashionMnistEpochsRepeatTheSplitInNewOrders() {
    Path dir = Path.of(FashionMnist.DEFAULT_DIR);
    assumeTrue(FashionMnist.isPresent(dir, FashionMnist.Split.TEST), "dataset-fashion-mnist missing");
    GeneratedRecords gen = GeneratedRecords.fashionMnist(dir, FashionMnist.Split.TEST, true, 3, 0);
    int n = 10_000;
    java.util.Set<Long> ids = new java.util.HashSet<>();
    boolean[][] seen = new boolean[2][n];
    int samePosition = 0;
    for (long i = 0; i < 2L * n; i++) {
      LabeledVector v = gen.map(i);
      assertTrue(ids.add(v.id), "ids are unique across epochs: " + v.id);
      int e = (int) (i / n);
      int image = (int) (v.id - (long) e * n);
      assertTrue(!seen[e][image], "image " + image + " twice in epoch " + e);
      seen[e][image] = true;
      if (e == 1 && gen.map(i - n).id == image) {
        samePosition++;
      }
    }
    assertTrue(samePosition < 10, "epoch 1 is reshuffled: " + samePosition + " images at the same position");
    // epoch 0 is the single-epoch order
    assertEquals(GeneratedRecords.fashionMnist(dir, FashionMnist.Split.TEST, true, 3, 0).map(1234L), gen.map(1234L));
    assertThrows(IllegalArgumentException.class, () -> StreamJobConfig.fromArgs("--dataset", "synthetic",
        "--epochs", "2"));
  }

  @Test
  void jobConfigFromFlagsAndFile() throws Exception {
    Path f = tmp.resolve("c.json");
    Files.writeString(f, "{\"dataset\": \"fashion-mnist\", \"batch_size\": 128, \"synthetic\": {\"classes\": 3}}");
    StreamJobConfig c = StreamJobConfig.fromArgs("--config", f.toString(), "--batch-size", "256",
        "--synthetic.noise", "0.1", "--output-dir=/tmp/x");
    assertEquals("fashion-mnist", c.dataset);
    assertEquals(256, c.batchSize);
    assertEquals(3, c.synthetic.classes);
    assertEquals(0.1, c.synthetic.noise);
    assertEquals(32, c.synthetic.dimension); // default kept (merge)
    assertEquals("/tmp/x", c.outputDir);
    assertThrows(IllegalArgumentException.class, () -> StreamJobConfig.fromArgs("--no-such-key", "1"));
    assertThrows(IllegalArgumentException.class, () -> StreamJobConfig.fromArgs("--dataset", "mnist"));
    TrainerConfig t = StreamTopology.trainerConfig(c);
    assertEquals(784, t.encoder().path("params").path("layers").get(0).path("params").path("in_features").asInt());
    TrainerConfig back = TrainerConfigs.fromJson(TrainerConfigs.toJson(t));
    assertEquals(TrainerConfigs.toJson(t), TrainerConfigs.toJson(back));
  }
}
