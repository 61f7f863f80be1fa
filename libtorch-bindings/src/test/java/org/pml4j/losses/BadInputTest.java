package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/** Bad input gets a clear exception or PML's zero loss; never a native crash or silent garbage. */
class BadInputTest {
  private Scope scope;
  private final TripletMarginLoss triplet = new TripletMarginLoss();
  private final ContrastiveLoss contrastive = new ContrastiveLoss();

  @BeforeEach
  void open() {
    scope = Scope.open();
    torch.manual_seed(1);
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private static Tensor emb(long n, long d) {
    return torch.randn(n, d).to(ScalarType.Double).requires_grad_(true);
  }

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void mismatchedBatchAndLabelSizes() {
    String m = message(() -> triplet.forward(emb(8, 4), Tensors.longs(0, 1, 0, 1)));
    assertTrue(m.contains("Number of embeddings must equal number of labels: 8 vs 4"), m);
  }

  @Test
  void nanAndInfEmbeddings() {
    Tensor e = emb(4, 3).detach().clone();
    Tensors.put2(e, Tensors.longs(2), Tensors.longs(1), Double.NaN);
    assertTrue(message(() -> triplet.forward(e, Tensors.longs(0, 0, 1, 1))).contains("NaN or Inf"));
    Tensor f = emb(4, 3).detach().clone();
    Tensors.put2(f, Tensors.longs(0), Tensors.longs(0), Double.POSITIVE_INFINITY);
    assertTrue(message(() -> contrastive.forward(f, Tensors.longs(0, 0, 1, 1))).contains("NaN or Inf"));
  }

  @Test
  void wrongDtypesAndShapes() {
    Tensor ints = torch.ones(4, 3).to(ScalarType.Long);
    assertTrue(message(() -> triplet.forward(ints, Tensors.longs(0, 0, 1, 1))).contains("float32 or float64"));
    Tensor flat = torch.ones(4).to(ScalarType.Double);
    assertTrue(message(() -> triplet.forward(flat, Tensors.longs(0, 0, 1, 1))).contains("2D tensor"));
    Tensor labels2d = Tensors.longs(0, 0, 1, 1).view(2, 2);
    assertTrue(message(() -> triplet.forward(emb(2, 3), labels2d)).contains("1D tensor"));
  }

  @Test
  void floatLabelsAreRejected() {
    Tensor labels = Tensors.of(new double[] {0, 0, 1, 1}, ScalarType.Float);
    String m = message(() -> triplet.forward(emb(4, 3), labels));
    assertTrue(m.contains("labels must be an integer tensor (int64), got Float"), m);
  }

  @Test
  void intLabelsOtherThanInt64AreAccepted() {
    Tensor labels = Tensors.longs(0, 0, 1, 1).to(ScalarType.Int);
    Tensor e = emb(4, 3);
    double a = triplet.forward(e, labels).item_double();
    double b = triplet.forward(e, Tensors.longs(0, 0, 1, 1)).item_double();
    assertEquals(b, a, 0.0);
  }

  @Test
  void emptyBatchGivesPmlsZeroLoss() {
    Tensor e = emb(0, 4);
    Tensor loss = triplet.forward(e, Tensors.emptyLong(e));
    assertEquals(0.0, loss.item_double(), 0.0);
    assertTrue(loss.requires_grad(), "the zero loss keeps the graph");
    loss.backward();
  }

  @Test
  void oneClassBatchGivesPmlsZeroLossWithZeroGradient() {
    Tensor e = emb(6, 4);
    Tensor loss = triplet.forward(e, Tensors.longs(3, 3, 3, 3, 3, 3));
    assertEquals(0.0, loss.item_double(), 0.0);
    loss.backward();
    assertEquals(0.0, e.grad().abs().sum().item_double(), 0.0);
    Tensor c = contrastive.forward(emb(6, 4), Tensors.longs(3, 3, 3, 3, 3, 3));
    assertTrue(c.item_double() >= 0 && Double.isFinite(c.item_double()));
  }

  @Test
  void labelsOrTupleRequired() {
    String m = message(() -> triplet.forward(emb(4, 3), null));
    assertTrue(m.contains("labels and indices_tuple cannot both be None"), m);
  }

  @Test
  void outOfRangeTupleIsRejected() {
    IndicesTuple t = IndicesTuple.of(new long[] {0, 1}, new long[] {1, 9}, new long[] {2, 3});
    String m = message(() -> triplet.forward(emb(4, 3), Tensors.longs(0, 0, 1, 1), t));
    assertTrue(m.contains("indices_tuple[1] has values in [1, 9]"), m);
  }

  @Test
  void refWidthAndLabelsAreChecked() {
    String m = message(() -> triplet.forward(emb(4, 3), Tensors.longs(0, 0, 1, 1), null, emb(5, 2),
        Tensors.longs(0, 1, 0, 1, 0)));
    assertTrue(m.contains("differ in width"), m);
    String n = message(() -> triplet.forward(emb(4, 3), Tensors.longs(0, 0, 1, 1), null, emb(5, 3),
        Tensors.longs(0, 1)));
    assertTrue(n.contains("Number of ref_emb must equal number of ref_labels"), n);
  }

  @Test
  void crossBatchMemoryChecksItsInputs() {
    CrossBatchMemory cbm = new CrossBatchMemory(new ContrastiveLoss(), 3, 4, null);
    String big = message(() -> cbm.forward(emb(5, 3), Tensors.longs(0, 1, 0, 1, 0)));
    assertTrue(big.contains("exceeds memory_size 4"), big);
    String wide = message(() -> cbm.forward(emb(2, 5), Tensors.longs(0, 1)));
    assertTrue(wide.contains("embedding_size 3"), wide);
    String both = message(() -> cbm.forward(emb(2, 3), Tensors.longs(0, 1),
        IndicesTuple.of(new long[] {0}, new long[] {1}, new long[] {1}), Tensors.bools(true, false)));
    assertTrue(both.contains("mutually exclusive"), both);
    String unsupported = assertThrows(IllegalArgumentException.class,
        () -> new CrossBatchMemory(new BaseMetricLossFunction(null) {
          @Override
          protected org.pml4j.reducers.LossDict computeLoss(Tensor e, Tensor l, IndicesTuple t, Tensor r, Tensor rl) {
            return zeroLosses();
          }
        }, 3)).getMessage();
    assertTrue(unsupported.contains("CrossBatchMemory not supported"), unsupported);
  }

  @Test
  void crossBatchMemoryStateRoundTrips() {
    CrossBatchMemory a = new CrossBatchMemory(new ContrastiveLoss(), 3, 8, null);
    Tensor e1 = emb(5, 3);
    a.forward(e1, Tensors.longs(0, 1, 0, 1, 2));
    var snap = a.stateSnapshot();
    CrossBatchMemory b = new CrossBatchMemory(new ContrastiveLoss(), 3, 8, null);
    b.restoreState((Tensor) snap.get("embedding_memory"), (Tensor) snap.get("label_memory"),
        (Long) snap.get("queue_idx"), (Boolean) snap.get("has_been_filled"));
    Tensor e2 = emb(5, 3);
    Tensor l2 = Tensors.longs(2, 1, 0, 0, 1);
    assertEquals(a.forward(e2, l2).item_double(), b.forward(e2, l2).item_double(), 0.0);
    assertEquals(a.queueIdx(), b.queueIdx());
    assertTrue(a.hasBeenFilled() && b.hasBeenFilled());
  }
}
