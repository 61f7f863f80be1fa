package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.spec.Registry;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/** The optimizers against PyTorch's update rules written out in double precision. */
class OptimizerTest {
  static final double[] P0 = {1.0, -2.0, 0.5};
  static final double[] Q0 = {0.3, 0.7};
  static final int STEPS = 4;

  /** Gradient of {@code sum(w_i * p_i^2)} with {@code w_i = i + 1}. */
  static double grad(double[] p, int i) {
    return 2 * (i + 1) * p[i];
  }

  /** Runs STEPS steps of the optimizer on p (group 0) and q (group 1, the "loss parameters"). */
  static double[][] run(OptimizerSpec spec) {
    try (Scope s = Scope.open()) {
      Tensor p = Tensors.of(P0, ScalarType.Double).requires_grad_(true);
      Tensor q = Tensors.of(Q0, ScalarType.Double).requires_grad_(true);
      try (TrainOptimizer opt = spec.build(List.of(p), List.of(q))) {
        for (int t = 0; t < STEPS; t++) {
          opt.zeroGrad();
          Tensor w1 = Tensors.of(new double[] {1, 2, 3}, ScalarType.Double);
          Tensor w2 = Tensors.of(new double[] {1, 2}, ScalarType.Double);
          p.pow(Tensors.s(2)).mul(w1).sum().add(q.pow(Tensors.s(2)).mul(w2).sum()).backward();
          opt.step();
        }
      }
      return new double[][] {Tensors.toDoubles(p), Tensors.toDoubles(q)};
    }
  }

  static double[] adamRef(double[] x0, double lr, double b1, double b2, double eps, double wd, boolean decoupled) {
    double[] p = x0.clone();
    double[] m = new double[p.length];
    double[] v = new double[p.length];
    for (int t = 1; t <= STEPS; t++) {
      for (int i = 0; i < p.length; i++) {
        double g = grad(p, i);
        if (decoupled) {
          p[i] *= 1 - lr * wd;
        } else {
          g += wd * p[i];
        }
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        double bc1 = 1 - Math.pow(b1, t);
        double bc2 = 1 - Math.pow(b2, t);
        p[i] -= lr / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
      }
    }
    return p;
  }

  static double[] sgdRef(double[] x0, double lr, double mom, double damp, double wd, boolean nesterov) {
    double[] p = x0.clone();
    double[] buf = new double[p.length];
    for (int t = 1; t <= STEPS; t++) {
      for (int i = 0; i < p.length; i++) {
        double g = grad(p, i) + wd * p[i];
        if (mom != 0) {
          buf[i] = t == 1 ? g : mom * buf[i] + (1 - damp) * g;
          g = nesterov ? g + mom * buf[i] : buf[i];
        }
        p[i] -= lr * g;
      }
    }
    return p;
  }

  @Test
  void adamFollowsPyTorchWithBetasInPlace() {
    // unequal betas far from the defaults: swapped betas would give other values
    OptimizerSpec spec = Registry.build("{\"class\": \"Adam\", \"params\": {\"lr\": 0.1, \"betas\": [0.5, 0.8], "
        + "\"eps\": 1e-6, \"weight_decay\": 0.01, \"loss_lr\": 0.02}}", OptimizerSpec.class);
    double[][] got = run(spec);
    assertArrayEquals(adamRef(P0, 0.1, 0.5, 0.8, 1e-6, 0.01, false), got[0], 1e-12);
    assertArrayEquals(adamRef(Q0, 0.02, 0.5, 0.8, 1e-6, 0.01, false), got[1], 1e-12);
  }

  @Test
  void adamWDecouplesWeightDecay() {
    OptimizerSpec spec = Registry.build("{\"class\": \"AdamW\", \"params\": {\"lr\": 0.05, \"betas\": [0.7, 0.9], "
        + "\"weight_decay\": 0.1}}", OptimizerSpec.class);
    double[][] got = run(spec);
    assertArrayEquals(adamRef(P0, 0.05, 0.7, 0.9, 1e-8, 0.1, true), got[0], 1e-12);
    assertArrayEquals(adamRef(Q0, 0.05, 0.7, 0.9, 1e-8, 0.1, true), got[1], 1e-12);
  }

  @Test
  void sgdMomentumNesterovWeightDecay() {
    double[][] plain = run(new SGD(0.05));
    assertArrayEquals(sgdRef(P0, 0.05, 0, 0, 0, false), plain[0], 1e-12);
    double[][] mom = run(Registry.build("{\"class\": \"SGD\", \"params\": {\"lr\": 0.05, \"momentum\": 0.9, "
        + "\"dampening\": 0.1, \"weight_decay\": 0.01, \"loss_lr\": 0.2}}", OptimizerSpec.class));
    assertArrayEquals(sgdRef(P0, 0.05, 0.9, 0.1, 0.01, false), mom[0], 1e-12);
    assertArrayEquals(sgdRef(Q0, 0.2, 0.9, 0.1, 0.01, false), mom[1], 1e-12);
    double[][] nest = run(new SGD(0.05, 0.8, 0, 0, true, null));
    assertArrayEquals(sgdRef(P0, 0.05, 0.8, 0, 0, true), nest[0], 1e-12);
  }

  @Test
  void specsRoundTripAndDefaults() {
    Adam a = assertInstanceOf(Adam.class, Registry.build("{\"class\": \"Adam\"}"));
    assertEquals(1e-3, a.lr());
    assertEquals(1e-3, a.lossLr());
    assertEquals(0.9, a.beta1());
    assertEquals(0.999, a.beta2());
    assertEquals(1e-8, a.eps());
    assertEquals(0, a.weightDecay());
    assertEquals(0.01, new AdamW().weightDecay());
    for (OptimizerSpec s : List.of(new Adam(0.1, 0.5, 0.6, 1e-7, 0.2, true, 0.3), new AdamW(),
        new SGD(0.1, 0.9, 0, 1e-4, true, 1.0))) {
      OptimizerSpec back = Registry.build(s.toSpec(), OptimizerSpec.class);
      assertEquals(s.toSpec(), back.toSpec());
    }
  }

  @Test
  void badSpecsAreRejected() {
    assertThrows(SpecException.class, () -> Registry.build("{\"class\": \"Adam\", \"params\": {\"lr\": -1}}"));
    assertThrows(SpecException.class,
        () -> Registry.build("{\"class\": \"Adam\", \"params\": {\"betas\": [1.0, 0.9]}}"));
    assertThrows(SpecException.class, () -> Registry.build("{\"class\": \"Adam\", \"params\": {\"betas\": [0.9]}}"));
    assertThrows(SpecException.class, () -> Registry.build("{\"class\": \"Adam\", \"params\": {\"momentum\": 0.9}}"));
    SpecException e = assertThrows(SpecException.class,
        () -> Registry.build("{\"class\": \"SGD\", \"params\": {\"nesterov\": true}}"));
    assertTrue(e.getMessage().contains("Nesterov"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new SGD(0.1).build(List.of(), List.of()));
  }

  @Test
  void stateRoundTripsThroughBytes() {
    try (Scope s = Scope.open()) {
      Tensor p = Tensors.of(P0, ScalarType.Double).requires_grad_(true);
      Tensor p2 = Tensors.of(P0, ScalarType.Double).requires_grad_(true);
      try (TrainOptimizer a = new Adam(0.1).build(List.of(p), List.of());
          TrainOptimizer b = new Adam(0.1).build(List.of(p2), List.of())) {
        for (int t = 0; t < 2; t++) {
          a.zeroGrad();
          p.pow(Tensors.s(2)).sum().backward();
          a.step();
        }
        b.loadState(a.saveState());
        try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
          p2.copy_(p);
        }
        for (TrainOptimizer o : List.of(a, b)) {
          Tensor x = o == a ? p : p2;
          o.zeroGrad();
          x.pow(Tensors.s(2)).sum().backward();
          o.step();
        }
        assertArrayEquals(Tensors.toDoubles(p), Tensors.toDoubles(p2), 0);
        assertThrows(IllegalArgumentException.class, () -> b.loadState(new byte[] {1, 2, 3}));
      }
    }
  }
}
