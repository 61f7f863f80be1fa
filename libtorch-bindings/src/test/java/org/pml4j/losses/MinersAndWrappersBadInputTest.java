package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.pml4j.miners.BaseMiner;
import org.pml4j.miners.EmbeddingsAlreadyPackagedAsTriplets;
import org.pml4j.miners.MultiSimilarityMiner;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * Bad input to miners and to the wrappers (MultipleLosses, SelfSupervisedLoss, CrossBatchMemory): always an
 * {@link IllegalArgumentException} that says what is wrong, never a native error or a silent wrong result.
 */
class MinersAndWrappersBadInputTest {
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
    torch.manual_seed(3);
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private static Tensor emb(long n, long d) {
    return torch.randn(n, d).to(ScalarType.Double);
  }

  private static Tensor withValue(Tensor e, double v) {
    Tensor c = e.clone();
    Tensors.put2(c, Tensors.longs(1), Tensors.longs(2), v);
    return c;
  }

  private static final Tensor LABELS = Tensors.longs(0, 0, 1, 1, 2, 2, 0, 1, 2);

  private static String message(Runnable r) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
    return e.getMessage();
  }

  private static void assertMessage(String expectedPart, Runnable r) {
    String m = message(r);
    assertTrue(m.contains(expectedPart), "expected '" + expectedPart + "' in: " + m);
  }

  static Stream<String> miners() {
    return Registry.knownClassesByPackage().get("miners").stream();
  }

  private static BaseMiner miner(String name) {
    return Registry.build("{\"class\":\"" + name + "\"}", BaseMiner.class);
  }

  // ------------------------------------------------------------------ miners (every registered one)

  @ParameterizedTest
  @MethodSource("miners")
  void minerWithoutLabels(String name) {
    BaseMiner m = miner(name);
    if (m instanceof EmbeddingsAlreadyPackagedAsTriplets) {
      // PML never reads its labels: labels are optional, a batch of 9 is 3 triplets
      assertEquals(3, Tensors.len(m.forward(emb(9, 4), null).get(0)));
      return;
    }
    assertMessage(name + " requires labels", () -> m.forward(emb(9, 4), null));
  }

  @ParameterizedTest
  @MethodSource("miners")
  void minerWithMismatchedLabelCount(String name) {
    BaseMiner m = miner(name);
    assertMessage("Number of embeddings must equal number of labels: 9 vs 4",
        () -> m.forward(emb(9, 4), Tensors.longs(0, 1, 0, 1)));
    assertMessage("Number of ref_emb must equal number of ref_labels: 6 vs 9",
        () -> m.forward(emb(9, 4), LABELS, emb(6, 4), LABELS));
  }

  @ParameterizedTest
  @MethodSource("miners")
  void minerWithNanOrInfEmbeddings(String name) {
    BaseMiner m = miner(name);
    assertMessage("embeddings contains NaN or Inf", () -> m.forward(withValue(emb(9, 4), Double.NaN), LABELS));
    assertMessage("embeddings contains NaN or Inf",
        () -> m.forward(withValue(emb(9, 4), Double.NEGATIVE_INFINITY), LABELS));
    assertMessage("ref_emb contains NaN or Inf",
        () -> m.forward(emb(9, 4), LABELS, withValue(emb(6, 4), Double.NaN), Tensors.longs(0, 1, 2, 0, 1, 2)));
  }

  @ParameterizedTest
  @MethodSource("miners")
  void minerWithRefEmbButNoRefLabels(String name) {
    BaseMiner m = miner(name);
    if (m instanceof EmbeddingsAlreadyPackagedAsTriplets) {
      return; // ignores the reference set, as PML
    }
    assertMessage(name + " requires ref_labels with ref_emb", () -> m.forward(emb(9, 4), LABELS, emb(6, 4), null));
    assertMessage("ref_labels given without ref_emb", () -> m.forward(emb(9, 4), LABELS, null, LABELS));
  }

  @ParameterizedTest
  @MethodSource("miners")
  void minerWithBadShapesAndDtypes(String name) {
    BaseMiner m = miner(name);
    assertMessage("differ in width", () -> m.forward(emb(9, 4), LABELS, emb(9, 3), LABELS));
    assertMessage("2D tensor", () -> m.forward(emb(9, 4).view(-1), LABELS));
    assertMessage("float32 or float64", () -> m.forward(emb(9, 4).to(ScalarType.Long), LABELS));
    assertMessage("labels must be an integer tensor", () -> m.forward(emb(9, 4), LABELS.to(ScalarType.Float)));
  }

  // ------------------------------------------------------------------ losses given ref_emb without ref_labels

  @Test
  void lossWithLabelsAndRefEmbButNoRefLabels() {
    TripletMarginLoss loss = new TripletMarginLoss();
    // PML pairs labels with labels and indexes the (query x ref) matrix with batch indices: an index error for a
    // smaller reference, silently ignored reference rows for a larger one. Both are rejected here.
    assertMessage("ref_labels are required with ref_emb", () -> loss.forward(emb(9, 4), LABELS, null, emb(4, 4),
        null));
    assertMessage("ref_labels are required with ref_emb", () -> loss.forward(emb(9, 4), LABELS, null, emb(12, 4),
        null));
    // same size: PML's reading is kept: ref_labels = labels (the same object, so pairs (i, i) are left out)
    Tensor e = emb(9, 4);
    Tensor r = emb(9, 4);
    assertEquals(loss.forward(e, LABELS, null, r, LABELS).item_double(),
        loss.forward(e, LABELS, null, r, null).item_double(), 1e-12);
  }

  // ------------------------------------------------------------------ MultipleLosses

  @Test
  void multipleLossesBadInput() {
    MultiSimilarityMiner miner = new MultiSimilarityMiner(0.1, null);
    MultipleLosses withMiners = new MultipleLosses(List.of(new TripletMarginLoss(), new ContrastiveLoss()),
        Arrays.asList(miner, null), null);
    IndicesTuple tuple = IndicesTuple.of(new long[] {0}, new long[] {1}, new long[] {2});
    assertMessage("indices_tuple must be None when MultipleLosses has miners",
        () -> withMiners.forward(emb(9, 4), LABELS, tuple));
    assertMessage("MultiSimilarityMiner requires labels", () -> withMiners.forward(emb(9, 4), null));
    assertMessage("Number of embeddings must equal number of labels: 9 vs 2",
        () -> withMiners.forward(emb(9, 4), Tensors.longs(0, 1)));
    assertMessage("NaN or Inf", () -> withMiners.forward(withValue(emb(9, 4), Double.NaN), LABELS));
    assertMessage("does not support ref_emb", () -> withMiners.forward(emb(9, 4), LABELS, null, emb(9, 4), LABELS));

    MultipleLosses plain = new MultipleLosses(List.of(new TripletMarginLoss()));
    assertMessage("labels and indices_tuple cannot both be None", () -> plain.forward(emb(9, 4), null));
    assertMessage("indices_tuple[1] has values in [1, 20]", () -> plain.forward(emb(9, 4), LABELS,
        IndicesTuple.of(new long[] {0, 1}, new long[] {1, 20}, new long[] {2, 3})));
  }

  // ------------------------------------------------------------------ SelfSupervisedLoss

  @Test
  void selfSupervisedLossBadInput() {
    for (boolean symmetric : new boolean[] {true, false}) {
      SelfSupervisedLoss ss = new SelfSupervisedLoss(new ContrastiveLoss(), symmetric);
      assertMessage("ref_emb must have the shape of embeddings", () -> ss.forward(emb(8, 4), emb(6, 4)));
      assertMessage("ref_emb must have the shape of embeddings", () -> ss.forward(emb(8, 4), emb(8, 3)));
      assertMessage("ref_emb must have the shape of embeddings", () -> ss.forward(emb(8, 4).view(-1),
          emb(8, 4).view(-1)));
      assertMessage("needs embeddings and ref_emb", () -> ss.forward(emb(8, 4), null));
      assertMessage("embeddings contains NaN or Inf", () -> ss.forward(withValue(emb(8, 4), Double.NaN), emb(8, 4)));
      assertMessage("ref_emb contains NaN or Inf", () -> ss.forward(emb(8, 4), withValue(emb(8, 4), Double.NaN)));
      assertMessage("differ in dtype", () -> ss.forward(emb(8, 4), emb(8, 4).to(ScalarType.Float)));
      assertMessage("labels are arange(batch)", () -> ss.forward(emb(8, 4), Tensors.longs(0, 1, 2, 3, 4, 5, 6, 7),
          null, emb(8, 4), null));
    }
  }

  // ------------------------------------------------------------------ CrossBatchMemory

  @Test
  void crossBatchMemoryBadInput() {
    CrossBatchMemory cbm = new CrossBatchMemory(new ContrastiveLoss(), 4, 32, new MultiSimilarityMiner(0.1, null));
    assertMessage("CrossBatchMemory requires labels", () -> cbm.forward(emb(9, 4), null));
    assertMessage("Number of embeddings must equal number of labels: 9 vs 2",
        () -> cbm.forward(emb(9, 4), Tensors.longs(0, 1)));
    assertMessage("NaN or Inf", () -> cbm.forward(withValue(emb(9, 4), Double.NaN), LABELS));
    assertMessage("does not take ref_emb", () -> cbm.forward(emb(9, 4), LABELS, null, emb(9, 4), LABELS));
    assertMessage("enqueue_mask must have one entry per embedding",
        () -> cbm.forward(emb(9, 4), LABELS, null, Tensors.bools(true, false)));
    // nothing was enqueued by the rejected calls
    assertEquals(0, cbm.queueIdx());
  }
}
