package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.apache.flink.util.InstantiationUtil;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pml4j.data.DataSource;
import org.pml4j.data.DataSourceProvider;
import org.pml4j.data.SyntheticClusters;

/** A core {@link DataSource} as a Flink generator: epochs, ids, shuffling, and the function as Flink ships it. */
class GeneratedRecordsTest {
  /** Ten rows: row i has label i % 3 and the single feature i. */
  record Ten() implements DataSource {
    @Override
    public String name() {
      return "ten";
    }

    @Override
    public long size() {
      return 10;
    }

    @Override
    public long[] sampleShape() {
      return new long[] {1};
    }

    @Override
    public Row row(long i) {
      return new Row(i % 3, new float[] {i});
    }
  }

  /** {@link Ten} as the registered source {@code ten-rows} (META-INF/services in the test resources). */
  public static final class TenProvider implements DataSourceProvider {
    @Override
    public String name() {
      return "ten-rows";
    }

    @Override
    public DataSource open(DataSource.Split split, JsonNode options) {
      return new Ten();
    }
  }

  static GeneratedRecords shipped(GeneratedRecords g) throws Exception {
    // What Flink does with a generator function: Java serialization to the task managers.
    return InstantiationUtil.clone(g, GeneratedRecordsTest.class.getClassLoader());
  }

  @Test
  void aFiniteSourceRepeatsInShuffledEpochsWithUniqueIds() throws Exception {
    GeneratedRecords g = shipped(new GeneratedRecords(new Ten(), true, 5, 100, 0));
    Set<Long> ids = new HashSet<>();
    for (long i = 0; i < 30; i++) {
      LabeledVector v = g.map(i);
      long e = i / 10;
      long row = (long) v.features[0];
      assertEquals(100 + e * 10 + row, v.id);
      assertEquals(row % 3, v.label);
      assertTrue(ids.add(v.id));
    }
    assertEquals(30, ids.size());
    // deterministic across copies and in any order
    assertEquals(g.map(17L), shipped(new GeneratedRecords(new Ten(), true, 5, 100, 0)).map(17L));
    GeneratedRecords plain = shipped(new GeneratedRecords(new Ten(), false, 0, 0, 0));
    for (long i = 0; i < 20; i++) {
      assertArrayEquals(new float[] {i % 10}, plain.map(i).features);
    }
    assertThrows(IllegalArgumentException.class, () -> new GeneratedRecords(new Ten(), false, 0, 0, -1));
  }

  @Test
  void syntheticRecordsAreTheCoreRowsOfTheirIds() throws Exception {
    SyntheticClusters model = new SyntheticClusters(4, 6, 0.3, 1.0, 42);
    GeneratedRecords g = shipped(GeneratedRecords.synthetic(model, 0, 0));
    GeneratedRecords held = shipped(g.withIdOffset(1_000));
    assertArrayEquals(model.row(7).features(), g.map(7L).features);
    assertEquals(model.row(7).label(), g.map(7L).label);
    assertEquals(1_007, held.map(7L).id);
    assertArrayEquals(model.row(1_007).features(), held.map(7L).features);
    assertNotEquals(g.map(7L), held.map(7L));
    assertEquals(6, g.dimension());
    assertEquals(DataSource.UNBOUNDED, g.rowsPerEpoch());
  }

  @Test
  void theStreamingJobReadsAnyRegisteredSource(@TempDir Path out) {
    StreamJobConfig c = StreamJobConfig.fromArgs("--dataset", "ten-rows", "--output-dir", out.toString());
    assertEquals(1, StreamInputs.dimension(c));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
    StreamingJob.build(env, c, TrainerFactory.DEFAULT);
    Set<String> nodes = new HashSet<>();
    for (StreamNode n : env.getStreamGraph().getStreamNodes()) {
      nodes.add(n.getOperatorName());
    }
    assertTrue(nodes.containsAll(Set.of("Source: train-source", "Source: heldout-source")), nodes.toString());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> StreamJobConfig.fromArgs("--dataset", "nine-rows"));
    assertTrue(e.getMessage().contains("ten-rows"), e.getMessage());
  }
}
