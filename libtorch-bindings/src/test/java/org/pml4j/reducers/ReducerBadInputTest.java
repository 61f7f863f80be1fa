package org.pml4j.reducers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * Reducers given null arguments, triplets they cannot reduce, or a loss dict whose indices do not fit the batch: an
 * {@link IllegalArgumentException} naming the argument, before LibTorch indexes anything.
 */
class ReducerBadInputTest {
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private static String message(Runnable r) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    return e.getMessage();
  }

  private static void assertMessage(Runnable r, String... parts) {
    String m = message(r);
    for (String p : parts) {
      assertTrue(m.contains(p), "expected '" + p + "' in: " + m);
    }
  }

  private static Tensor emb(ScalarType dt) {
    return torch.randn(4, 3).to(dt);
  }

  private static LossDict pairs(ScalarType dt, long[] a, long[] p) {
    return LossDict.of("loss", new LossInfo(torch.rand(a.length).to(dt), new Tensor[] {Tensors.longs(a),
        Tensors.longs(p)}, ReductionType.POS_PAIR));
  }

  private static final Tensor LABELS = Tensors.longs(0, 1, 0, 1);

  @ParameterizedTest
  @ValueSource(strings = {"MeanReducer", "SumReducer", "AvgNonZeroReducer", "DivisorReducer", "PerAnchorReducer",
      "ClassWeightedReducer", "ThresholdReducer", "MultipleReducers"})
  void nullArgumentsAreNamed(String name) {
    BaseReducer r = switch (name) {
      case "MeanReducer" -> new MeanReducer();
      case "SumReducer" -> new SumReducer();
      case "AvgNonZeroReducer" -> new AvgNonZeroReducer();
      case "DivisorReducer" -> new DivisorReducer();
      case "PerAnchorReducer" -> new PerAnchorReducer();
      case "ClassWeightedReducer" -> new ClassWeightedReducer(new double[] {1, 2});
      case "ThresholdReducer" -> new ThresholdReducer(0.1, null);
      default -> new MultipleReducers(Map.of());
    };
    LossDict ok = pairs(ScalarType.Double, new long[] {0, 1}, new long[] {2, 3});
    assertMessage(() -> r.forward(null, emb(ScalarType.Double), LABELS), "loss_dict must not be null");
    assertMessage(() -> r.forward(ok, null, LABELS), "embeddings must not be null");
    LossDict nullEntry = new LossDict();
    nullEntry.put("loss", null);
    assertMessage(() -> r.forward(nullEntry, emb(ScalarType.Double), LABELS), "loss_dict['loss'] must not be null");
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void perAnchorReducerRejectsTripletsWithAClearMessage(ScalarType dt) {
    LossDict triplets = LossDict.of("loss", new LossInfo(torch.rand(2).to(dt), new Tensor[] {Tensors.longs(0, 1),
        Tensors.longs(2, 3), Tensors.longs(1, 0)}, ReductionType.TRIPLET));
    assertMessage(() -> new PerAnchorReducer().forward(triplets, emb(dt), LABELS), "PerAnchorReducer cannot reduce "
        + "triplet losses", "Triplet reduction not supported");
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void inconsistentLossDictIsRejectedBeforeLibTorch(ScalarType dt) {
    PerAnchorReducer perAnchor = new PerAnchorReducer();
    ClassWeightedReducer weighted = new ClassWeightedReducer(new double[] {1, 2});
    // anchors beyond the batch (4 rows)
    LossDict far = pairs(dt, new long[] {0, 7}, new long[] {1, 2});
    assertMessage(() -> perAnchor.forward(far, emb(dt), LABELS), "PerAnchorReducer: loss_dict anchor indices has "
        + "values in [0, 7] but must index the 4 rows of embeddings");
    assertMessage(() -> weighted.forward(far, emb(dt), LABELS), "ClassWeightedReducer: loss_dict anchor indices has "
        + "values in [0, 7] but must index the 4 labels");
    // negative indices (Python would wrap around)
    LossDict negative = pairs(dt, new long[] {0, 1}, new long[] {-1, 2});
    assertMessage(() -> perAnchor.forward(negative, emb(dt), LABELS),
        "reference indices has values in [-1, 2] but must not be negative");
    LossDict negativeAnchor = pairs(dt, new long[] {-2, 1}, new long[] {0, 2});
    assertMessage(() -> weighted.forward(negativeAnchor, emb(dt), LABELS), "anchor indices has values in [-2, 1]");
    // losses and indices of different lengths
    LossDict ragged = LossDict.of("loss", new LossInfo(torch.rand(3).to(dt), new Tensor[] {Tensors.longs(0, 1),
        Tensors.longs(1, 2)}, ReductionType.POS_PAIR));
    assertMessage(() -> perAnchor.forward(ragged, emb(dt), LABELS), "losses and indices differ in length");
    assertMessage(() -> weighted.forward(ragged, emb(dt), LABELS), "losses and indices differ in length");
    // float or 2-D index tensors
    LossDict floatIdx = LossDict.of("loss", LossInfo.element(torch.rand(2).to(dt), torch.zeros(2)));
    assertMessage(() -> weighted.forward(floatIdx, emb(dt), LABELS), "indices[0] must be a 1D integer tensor, got "
        + "Float");
    LossDict missing = LossDict.of("loss", new LossInfo(torch.rand(2).to(dt), new Tensor[] {Tensors.longs(0, 1),
        null}, ReductionType.NEG_PAIR));
    assertMessage(() -> perAnchor.forward(missing, emb(dt), LABELS), "indices[1] must not be null");
    // labels that do not cover the anchors, and class labels without a weight
    assertMessage(() -> weighted.forward(pairs(dt, new long[] {0, 3}, new long[] {1, 2}), emb(dt),
        Tensors.longs(0, 1)), "must index the 2 labels");
    assertMessage(() -> weighted.forward(pairs(dt, new long[] {0, 3}, new long[] {1, 2}), emb(dt),
        Tensors.longs(0, 1, 0, 5)), "ClassWeightedReducer has 2 weights but saw label 5");
    // a consistent dict still reduces as PML: per anchor means (0.2 and 0.4 for anchor 0, 0.6 for anchor 1), mean
    LossDict good = LossDict.of("loss", new LossInfo(Tensors.of(new double[] {0.2, 0.4, 0.6}, dt),
        new Tensor[] {Tensors.longs(0, 0, 1), Tensors.longs(1, 2, 3)}, ReductionType.POS_PAIR));
    assertEquals((0.3 + 0.6 + 0 + 0) / 4, perAnchor.forward(good, emb(dt), LABELS).item_double(), 1e-6);
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void badReducerParameters(ScalarType dt) {
    assertMessage(() -> new ClassWeightedReducer(null), "weights must not be null");
    assertMessage(() -> new ClassWeightedReducer(new double[] {1, Double.NaN}), "weights[1] must be finite");
    assertMessage(() -> new ThresholdReducer(Double.NaN, null), "low must not be NaN");
    assertMessage(() -> new MultipleReducers(null), "reducers must not be null");
  }
}
