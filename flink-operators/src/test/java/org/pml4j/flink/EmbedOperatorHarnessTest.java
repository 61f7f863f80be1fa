package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.operators.co.CoBroadcastWithNonKeyedOperator;
import org.apache.flink.streaming.util.BroadcastOperatorTestHarness;
import org.junit.jupiter.api.Test;
import org.pml4j.data.LabeledDataset;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.train.CheckpointableTrainer;
import org.pml4j.train.RetrievalEval;
import org.pml4j.train.Trainers;

/**
 * {@link EmbedOperator} in Flink's {@link BroadcastOperatorTestHarness} (a broadcast process function on a non-keyed
 * stream): records before any model wait and are embedded in order when the first model arrives, a replayed older
 * version is ignored, and a restored operator serves at once with the model and buffer of its snapshot. Embeddings are
 * checked against the LibTorch encoder the model was exported from.
 */
class EmbedOperatorHarnessTest {
  static BroadcastOperatorTestHarness<LabeledVector, ModelUpdate, Embedding> harness() throws Exception {
    return new BroadcastOperatorTestHarness<>(
        new CoBroadcastWithNonKeyedOperator<>(new EmbedOperator(), List.of(EmbedOperator.MODELS)), 1, 1, 0);
  }

  @Test
  void buffersServesNewestAndRestores() throws Exception {
    List<LabeledVector> in = TrainerStateGolden.records();
    float[][] expected;
    ModelUpdate v1;
    ModelUpdate v0;
    try (CheckpointableTrainer t = Trainers.fromConfig(TrainerStateGolden.config())) {
      v0 = new ModelUpdate(0, 0, OnnxExporter.export(t.encoder(), 0, 0), Map.of(), 1L);
      float[][] x = new float[8][];
      long[] y = new long[8];
      for (int i = 0; i < 8; i++) {
        x[i] = in.get(i).features;
        y[i] = in.get(i).label;
      }
      t.trainStep(x, y);
      v1 = new ModelUpdate(1, 1, OnnxExporter.export(t.encoder(), 1, 1), Map.of(), 2L);
      float[][] all = new float[in.size()][];
      long[] labels = new long[in.size()];
      for (int i = 0; i < all.length; i++) {
        all[i] = in.get(i).features;
        labels[i] = in.get(i).label;
      }
      expected = RetrievalEval.embed(t.encoder(),
          new LabeledDataset("golden", all, labels, new long[] {TrainerStateGolden.DIM}));
    }
    OperatorSubtaskState snap;
    try (var h = harness()) {
      h.initializeEmptyState();
      h.open();
      h.processElement(in.get(0), 1);
      h.processElement(in.get(1), 2);
      assertEquals(0, h.extractOutputValues().size(), "no model yet: buffered");
      h.processBroadcastElement(v1, 3);
      h.processBroadcastElement(v0, 4); // an older version (a replay): ignored
      h.processElement(in.get(2), 5);
      List<Embedding> out = h.extractOutputValues();
      assertEquals(List.of(0L, 1L, 2L), out.stream().map(e -> e.id).toList());
      for (Embedding e : out) {
        assertEquals(1, e.modelVersion);
        assertEquals(in.get((int) e.id).label, e.label);
        assertArrayEquals(expected[(int) e.id], e.vector, 1e-5f);
      }
      snap = h.snapshot(1, 1);
    }
    try (var h = harness()) {
      h.initializeState(snap);
      h.open();
      h.processElement(in.get(3), 6);
      List<Embedding> out = h.extractOutputValues();
      assertEquals(1, out.size(), "the restored model serves at once");
      assertEquals(1, out.get(0).modelVersion);
      assertArrayEquals(expected[3], out.get(0).vector, 1e-5f);
      assertTrue(h.getBroadcastState(EmbedOperator.MODELS).contains(EmbedOperator.LATEST));
    }
  }
}
