package org.pml4j.flink;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OperatorSnapshotUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Writes the committed trainer-state resources ({@link TrainerStateGolden}). Run only by hand, and only when a new
 * state format version is introduced, to add a resource of the version being retired:
 * {@code -Dtest=TrainerStateGoldenWriter -Dpml4j.writeGoldenState=DIR}.
 */
@EnabledIfSystemProperty(named = "pml4j.writeGoldenState", matches = ".+")
class TrainerStateGoldenWriter {
  @Test
  void write() throws Exception {
    Path dir = Path.of(System.getProperty("pml4j.writeGoldenState"));
    Files.createDirectories(dir.resolve("state"));
    TrainerOperator op = new TrainerOperator(TrainerFactory.DEFAULT, TrainerStateGolden.config(),
        TrainerStateGolden.settings());
    try (OneInputStreamOperatorTestHarness<LabeledVector, ModelUpdate> h =
        new OneInputStreamOperatorTestHarness<>(op)) {
      h.initializeEmptyState();
      h.open();
      List<LabeledVector> in = TrainerStateGolden.records();
      for (int i = 0; i < TrainerStateGolden.SNAPSHOT_AFTER; i++) {
        h.processElement(new StreamRecord<>(in.get(i)));
      }
      OperatorSubtaskState snap = h.snapshot(1, 1);
      OperatorSnapshotUtil.writeStateHandle(snap, dir.resolve(TrainerStateGolden.OPERATOR_SNAPSHOT).toString());
      java.lang.reflect.Field f = TrainerOperator.class.getDeclaredField("state");
      f.setAccessible(true);
      @SuppressWarnings("unchecked")
      ListState<byte[]> state = (ListState<byte[]>) f.get(op);
      byte[] blob = state.get().iterator().next();
      Files.write(dir.resolve(TrainerStateGolden.BLOB), blob);
      org.junit.jupiter.api.Assertions.assertTrue(blob.length > 0
          && Files.size(dir.resolve(TrainerStateGolden.OPERATOR_SNAPSHOT)) > 0, "wrote an empty state resource");
      System.out.println("wrote state blob of " + blob.length + " bytes; outputs " + h.extractOutputValues());
    }
  }
}
