package org.pml4j.miners;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.pml4j.regularizers.LpRegularizer;
import org.pml4j.regularizers.RegularFaceRegularizer;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * Empty batches and references where PML fails (BatchHardMiner, BatchEasyHardMiner, RegularFaceRegularizer: its
 * per-row max/min has nothing to reduce) are an {@link IllegalArgumentException} saying so; where PML returns an
 * empty result, so does pml4j. EmbeddingsAlreadyPackagedAsTriplets refuses a reference its triplets would index past.
 */
class MinerEdgeCasesTest {
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
    torch.manual_seed(11);
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  private static Tensor emb(long n, ScalarType dt) {
    return torch.randn(n, 4).to(dt);
  }

  private static Tensor labels(long n) {
    long[] y = new long[(int) n];
    for (int i = 0; i < n; i++) {
      y[i] = i % 3;
    }
    return Tensors.longs(y);
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void batchHardMinersOnAnEmptyBatch(ScalarType dt) {
    for (BaseMiner m : new BaseMiner[] {new BatchHardMiner(), new BatchEasyHardMiner()}) {
      String name = m.getClass().getSimpleName();
      String msg = message(() -> m.forward(emb(0, dt), labels(0)));
      assertTrue(msg.contains(name + " needs at least one reference embedding") && msg.contains("an empty batch"),
          msg);
      String ref = message(() -> m.forward(emb(6, dt), labels(6), emb(0, dt), labels(0)));
      assertTrue(ref.contains("an empty ref_emb"), ref);
      // an empty batch against a non-empty reference: nothing to mine (PML's per-row reduction over 0 rows)
      IndicesTuple t = m.forward(emb(0, dt), labels(0), emb(6, dt), labels(6));
      for (int i = 0; i < t.size(); i++) {
        assertEquals(0, Tensors.len(t.get(i)));
      }
    }
    // "all" strategies reduce nothing: an empty batch mines nothing, as in PML
    BatchEasyHardMiner all = new BatchEasyHardMiner(BatchEasyHardMiner.Strategy.ALL, BatchEasyHardMiner.Strategy.ALL,
        null, null, null);
    assertEquals(0, Tensors.len(all.forward(emb(0, dt), labels(0)).get(0)));
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void regularizersOnAnEmptyMatrix(ScalarType dt) {
    String msg = message(() -> new RegularFaceRegularizer().forward(emb(0, dt)));
    assertTrue(msg.contains("RegularFaceRegularizer input x must have at least one row"), msg);
    // one row: its most similar other row is itself (PML's max over [-inf] picks index 0): cos = 1
    assertEquals(1.0, new RegularFaceRegularizer().forward(emb(1, dt)).item_double(), 1e-6);
    // LpRegularizer over no rows: PML's mean of nothing, NaN (listed in the README's NaN table)
    assertTrue(Double.isNaN(new LpRegularizer().forward(emb(0, dt)).item_double()));
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void embeddingsAlreadyPackagedAsTripletsChecksTheReference(ScalarType dt) {
    EmbeddingsAlreadyPackagedAsTriplets m = new EmbeddingsAlreadyPackagedAsTriplets();
    String dtype = message(() -> m.forward(emb(9, dt), null, emb(9, dt == ScalarType.Float ? ScalarType.Double
        : ScalarType.Float), null));
    assertTrue(dtype.contains("embeddings and ref_emb differ in dtype"), dtype);
    String width = message(() -> m.forward(emb(9, dt), null, torch.randn(9, 5).to(dt), null));
    assertTrue(width.contains("embeddings and ref_emb differ in width: 4 vs 5"), width);
    // a smaller reference: the triplets still index the batch, as PML returns them (golden cases 005 and 007) ...
    Tensor e = emb(9, dt).requires_grad_(true);
    Tensor ref = emb(6, dt);
    IndicesTuple t = m.forward(e, null, ref, null);
    assertArrayEquals(new long[] {0, 3, 6}, Tensors.toLongs(t.get(0)));
    assertArrayEquals(new long[] {2, 5, 8}, Tensors.toLongs(t.get(2)));
    // ... and a loss given them with that reference says which indices do not fit, before LibTorch indexes
    String loss = message(() -> new org.pml4j.losses.TripletMarginLoss().forward(e, labels(9), t, ref, labels(6)));
    assertTrue(loss.contains("indices_tuple[1] has values in [1, 7] but must index the 6 reference embeddings"), loss);
  }
}
