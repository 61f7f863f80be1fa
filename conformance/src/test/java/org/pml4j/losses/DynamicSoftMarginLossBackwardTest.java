package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * PML issue #731: in PML 2.8.1 a DynamicSoftMarginLoss instance keeps its histogram's autograd graph between calls, so
 * {@code backward()} fails from the second call on. pml4j stores the histogram detached: every call can be
 * back-propagated, and the values (loss, gradient, histogram after each call) are still PML's golden ones.
 */
class DynamicSoftMarginLossBackwardTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private static JsonNode goldenCase(String id) throws Exception {
    try (InputStream in = DynamicSoftMarginLossBackwardTest.class.getResourceAsStream(
        "/conformance/cases/loss/" + id + ".json")) {
      return JSON.readTree(in);
    }
  }

  private static double[][] matrix(JsonNode rows) {
    double[][] x = new double[rows.size()][];
    for (int i = 0; i < x.length; i++) {
      x[i] = vector(rows.get(i));
    }
    return x;
  }

  private static double[] vector(JsonNode v) {
    double[] x = new double[v.size()];
    for (int j = 0; j < x.length; j++) {
      x[j] = v.get(j).asDouble();
    }
    return x;
  }

  private static long[] longs(JsonNode v) {
    long[] x = new long[v.size()];
    for (int j = 0; j < x.length; j++) {
      x[j] = v.get(j).asLong();
    }
    return x;
  }

  private static void assertClose(double expected, double actual, String what) {
    assertEquals(expected, actual, 1e-9 + 1e-6 * Math.abs(expected), what);
  }

  /** The multi-call golden cases: one instance, backward after every call, every value equal to PML's. */
  @ParameterizedTest
  @ValueSource(strings = {"s0-loss-DynamicSoftMarginLoss-000", "s0-loss-DynamicSoftMarginLoss-003",
      "s0-loss-DynamicSoftMarginLoss-004"})
  void everyCallBackPropagatesWithPmlsValues(String id) throws Exception {
    JsonNode c = goldenCase(id);
    JsonNode calls = c.get("inputs").get("calls");
    JsonNode expected = c.get("expected").get("calls");
    assertTrue(calls.size() >= 2, id + " is a multi-call case");
    DynamicSoftMarginLoss loss = Registry.build(JSON.createObjectNode().put("class", "DynamicSoftMarginLoss")
        .set("params", c.get("params")), DynamicSoftMarginLoss.class);
    for (int i = 0; i < calls.size(); i++) {
      Tensor e = Tensors.of(matrix(calls.get(i).get("embeddings")), ScalarType.Double).requires_grad_(true);
      Tensor labels = Tensors.longs(longs(calls.get(i).get("labels")));
      Tensor value = loss.forward(e, labels);
      value.backward(); // PML 2.8.1 raises here from the second call on
      JsonNode exp = expected.get(i);
      assertClose(exp.get("loss").asDouble(), value.item_double(), id + " call " + i + " loss");
      double[][] grad = Tensors.toDoubles2d(e.grad());
      double[][] expGrad = matrix(exp.get("grad_embeddings"));
      for (int r = 0; r < grad.length; r++) {
        for (int j = 0; j < grad[r].length; j++) {
          assertClose(expGrad[r][j], grad[r][j], id + " call " + i + " grad[" + r + "][" + j + "]");
        }
      }
      double[] hist = Tensors.toDoubles(loss.histogram());
      double[] expHist = vector(exp.get("state_after").get("hist_"));
      for (int b = 0; b < hist.length; b++) {
        assertClose(expHist[b], hist[b], id + " call " + i + " hist_[" + b + "]");
      }
    }
  }

  /** A small training loop: the same instance, an optimizer-like update between calls, many backward passes. */
  @Test
  void trainingLoopWithOneInstance() {
    torch.manual_seed(5);
    // min_val -2.5: the histogram covers [-2.5, 2.0), all of d_ap - d_an (PML's default -2 stops at 1.6)
    DynamicSoftMarginLoss loss = new DynamicSoftMarginLoss(-2.5, 10, 0.01, LossOptions.defaults());
    Tensor w = torch.randn(6, 4).to(ScalarType.Double).requires_grad_(true);
    Tensor labels = Tensors.longs(0, 0, 1, 1, 2, 2, 3, 3);
    for (int step = 0; step < 10; step++) {
      try (Scope s = Scope.open()) {
        Tensor x = torch.randn(8, 6).to(ScalarType.Double);
        Tensor value = loss.forward(x.matmul(w), labels);
        value.backward();
        assertTrue(w.grad().isfinite().all().item_bool(), "finite gradient at step " + step);
        try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
          w.sub_(w.grad().mul(Tensors.s(0.1)));
          w.grad().zero_();
        }
      }
    }
    assertEquals(1.0, loss.histogram().sum().item_double(), 1e-9);
    assertTrue(!loss.histogram().requires_grad(), "the stored histogram is detached");
  }
}
