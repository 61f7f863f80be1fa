package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.pml4j.data.LabeledDataset;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.train.Epochs;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;
import org.pml4j.train.TrainingEngine;

/**
 * Issue 11's "done when": the same trainer config on the same batches gives byte-identical ONNX through the engine as
 * {@code pml4j train} drives it ({@link Epochs#batches} shuffled by the trainer's random, {@link Epochs#run} on a
 * {@link TrainingEngine}, the export of {@code TrainCommand}) and through the streaming {@link TrainerOperator} fed the
 * same rows in the same order. Both sides export with the same {@link OnnxExporter.ExportInfo} (version 1, the step,
 * no extra metadata: {@code pml4j train} adds the dataset name to its file's metadata, which is not the model).
 */
class TrainStreamEquivalenceTest {
  @ParameterizedTest(name = "{0} rows, {1} epochs")
  @CsvSource({"64, 2", "60, 1"})
  void sameBatchesGiveTheSameOnnx(int rows, int epochs) throws Exception {
    TrainerConfig config = TrainerStateGolden.config();
    int batchSize = TrainerStateGolden.settings().batchSize();
    List<LabeledVector> records = TrainerStateGolden.records().subList(0, rows);
    float[][] x = new float[rows][];
    long[] y = new long[rows];
    for (int i = 0; i < rows; i++) {
      x[i] = records.get(i).features;
      y[i] = records.get(i).label;
    }
    LabeledDataset data = new LabeledDataset("golden", x, y, new long[] {TrainerStateGolden.DIM});

    // pml4j train's path
    List<LabeledVector> order = new ArrayList<>();
    byte[] trainOnnx;
    long steps;
    try (TrainingEngine engine = new TrainingEngine(Trainers.fromConfig(config),
        TrainingEngine.Settings.batchesOnly(batchSize), null)) {
      java.util.Random rng = ((org.pml4j.train.BaseTrainer) engine.trainer()).random();
      for (int e = 0; e < epochs; e++) {
        List<int[]> batches = Epochs.batches(rows, null, batchSize, rng);
        for (int[] b : batches) {
          for (int i : b) {
            order.add(records.get(i));
          }
        }
        Epochs.run(engine, data, batches, null);
      }
      steps = engine.steps();
      trainOnnx = OnnxExporter.export(engine.trainer().encoder(), new OnnxExporter.ExportInfo(1, steps, Map.of(),
          true));
    }
    assertEquals(epochs * ((rows + batchSize - 1) / batchSize), steps);

    // the streaming operator, fed the rows in the order the batches took them
    TrainerOperator.Settings s = new TrainerOperator.Settings(batchSize, 0, 0, true, true, true);
    try (OneInputStreamOperatorTestHarness<LabeledVector, ModelUpdate> h = new OneInputStreamOperatorTestHarness<>(
        new TrainerOperator(TrainerFactory.DEFAULT, config, s))) {
      h.initializeEmptyState();
      h.open();
      for (LabeledVector v : order) {
        h.processElement(new StreamRecord<>(v));
      }
      h.endInput();
      List<ModelUpdate> out = h.extractOutputValues();
      assertEquals(2, out.size(), "version 0 (untrained) and version 1 at the end");
      assertEquals(1, out.get(1).version);
      assertEquals(steps, out.get(1).step);
      assertArrayEquals(trainOnnx, out.get(1).onnx);
    }
  }
}
