package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.pml4j.regularizers.CenterInvariantRegularizer;
import org.pml4j.regularizers.LpRegularizer;
import org.pml4j.regularizers.ZeroMeanRegularizer;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * The rows of the README's table "Where pml4j returns PML's NaN": finite, valid input for which PML 2.8.1 computes
 * NaN (or a NaN gradient), and pml4j returns the same instead of an error. Each test is one row, in float32 and
 * float64; each asserts that the result is NaN here and (from PML's formula, cited per row) why PML gives it.
 */
class PmlNanCasesTest {
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
    torch.manual_seed(2);
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private static Tensor emb(long n, ScalarType dt) {
    return torch.randn(n, 4).to(dt).requires_grad_(true);
  }

  private static boolean hasNonFinite(Tensor t) {
    for (double d : Tensors.toDoubles(t)) {
      if (!Double.isFinite(d)) {
        return true;
      }
    }
    return false;
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void ncaLossWithAllDistinctLabels(ScalarType dt) {
    // PML: no sample has a positive, so every row's softmax mass on positives is 0, all rows are dropped
    // (exp != 0), and MeanReducer takes torch.mean of an empty tensor: NaN
    Tensor v = new NCALoss().forward(emb(6, dt), Tensors.longs(0, 1, 2, 3, 4, 5));
    assertTrue(Double.isNaN(v.item_double()));
    // one shared label is enough for a number
    assertFalse(Double.isNaN(new NCALoss().forward(emb(6, dt), Tensors.longs(0, 1, 2, 3, 4, 0)).item_double()));
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void p2sGradLossWithAnAllZeroEmbedding(ScalarType dt) {
    // PML: cos_theta = x·W / ||x|| with ||x|| = 0: 0/0 before the clamp
    Tensor e = torch.randn(4, 4).to(dt);
    e.get(1).zero_();
    e.requires_grad_(true);
    P2SGradLoss loss = new P2SGradLoss(4, 3);
    loss.toParameters(dt, e.device());
    Tensor v = loss.forward(e, Tensors.longs(0, 1, 2, 0));
    assertTrue(Double.isNaN(v.item_double()));
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void vicRegLossWithABatchOfOne(ScalarType dt) {
    // PML: emb.var(dim=0) is unbiased (divides by N - 1 = 0), and the covariance divides by N - 1 too
    Tensor e = emb(1, dt);
    Tensor v = new VICRegLoss().forward(e, null, null, e.mul(Tensors.s(2.0)), null);
    assertTrue(Double.isNaN(v.item_double()));
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void tupletMarginLossWithACosineOfExactlyOne(ScalarType dt) {
    // PML: acos(cos) of a positive pair pointing the same way (cos exactly 1): a finite loss, but acos'(1) is
    // infinite, so the gradient is NaN; clamping the cosine (clamp_cosine) does not change acos'(1)
    for (boolean clamp : new boolean[] {false, true}) {
      Tensor e = torch.ones(4, 4).to(dt).mul(Tensors.s(0.5)).requires_grad_(true);
      Tensor v = new TupletMarginLoss().withClampCosine(clamp).forward(e, Tensors.longs(0, 0, 1, 1));
      assertTrue(Double.isFinite(v.item_double()));
      v.backward();
      assertTrue(hasNonFinite(e.grad()), "clamp_cosine " + clamp);
    }
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void emptyBatchWithAnEmbeddingRegularizer(ScalarType dt) {
    // PML: the loss part is its zero loss, but the regularizer's MeanReducer takes the mean of no rows: NaN
    TripletMarginLoss plain = new TripletMarginLoss();
    assertTrue(plain.forward(emb(0, dt), Tensors.longs()).item_double() == 0.0);
    TripletMarginLoss regularized = new TripletMarginLoss(0.05, false, false, null,
        LossOptions.defaults().withEmbeddingRegularizer(new LpRegularizer()));
    assertTrue(Double.isNaN(regularized.forward(emb(0, dt), Tensors.longs()).item_double()));
  }

  @ParameterizedTest
  @EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void regularizersOfNoRows(ScalarType dt) {
    // PML: the mean of an empty element loss (RegularFaceRegularizer raises instead: MinerEdgeCasesTest)
    assertTrue(Double.isNaN(new LpRegularizer().forward(emb(0, dt)).item_double()));
    assertTrue(Double.isNaN(new ZeroMeanRegularizer().forward(emb(0, dt)).item_double()));
    assertTrue(Double.isNaN(new CenterInvariantRegularizer().forward(emb(0, dt)).item_double()));
  }
}
