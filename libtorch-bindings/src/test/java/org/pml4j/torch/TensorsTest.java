package org.pml4j.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

class TensorsTest {
  @Test
  void float64RoundTripIsExact() {
    try (Scope s = Scope.open()) {
      double[][] m = {{1.5, -2.25, Math.PI}, {1e-300, 4, Double.MAX_VALUE}};
      Tensor t = Tensors.of(m, ScalarType.Double);
      assertEquals(ScalarType.Double, Tensors.dtype(t));
      assertArrayEquals(new long[] {2, 3}, Tensors.shape(t));
      double[][] back = Tensors.toDoubles2d(t);
      for (int i = 0; i < 2; i++) {
        assertArrayEquals(m[i], back[i], 0.0);
      }
    }
  }

  @Test
  void float32RoundTripRoundsToFloat() {
    try (Scope s = Scope.open()) {
      Tensor t = Tensors.floats(new float[][] {{0.1f, 3.4028235e38f}, {-7f, 1e-45f}});
      assertEquals(ScalarType.Float, Tensors.dtype(t));
      assertArrayEquals(new float[] {0.1f, 3.4028235e38f, -7f, 1e-45f}, Tensors.toFloats(t), 0f);
      Tensor d = Tensors.of(new double[] {0.1}, ScalarType.Float);
      assertEquals((double) 0.1f, Tensors.toDoubles(d)[0], 0.0);
    }
  }

  @Test
  void int64AndBoolRoundTrip() {
    try (Scope s = Scope.open()) {
      long[] v = {Long.MIN_VALUE, -1, 0, 42, Long.MAX_VALUE};
      assertArrayEquals(v, Tensors.toLongs(Tensors.longs(v)));
      boolean[] b = {true, false, false, true};
      assertArrayEquals(b, Tensors.toBools(Tensors.bools(b)));
      assertEquals(ScalarType.Long, Tensors.dtype(Tensors.longs(v)));
      assertEquals(ScalarType.Bool, Tensors.dtype(Tensors.bools(b)));
    }
  }

  @Test
  void indexingIdiomsMatchPyTorchSemantics() {
    try (Scope s = Scope.open()) {
      Tensor m = torch.arange(Tensors.s(12L)).view(3, 4).to(ScalarType.Double);
      Tensor picked = Tensors.index2(m, Tensors.longs(0, 2, 1), Tensors.longs(3, 0, 1));
      assertArrayEquals(new double[] {3, 8, 5}, Tensors.toDoubles(picked), 0.0);
      Tensors.put2(m, Tensors.longs(1), Tensors.longs(2), -1.0);
      assertEquals(-1.0, Tensors.toDoubles2d(m)[1][2], 0.0);
      Tensor[] w = Tensors.where(m.lt(Tensors.s(2.0)));
      assertArrayEquals(new long[] {0, 0, 1}, Tensors.toLongs(w[0]));
      assertArrayEquals(new long[] {0, 1, 2}, Tensors.toLongs(w[1]));
      Tensor[] u = Tensors.unique(Tensors.longs(3, 1, 3, 2, 3));
      assertArrayEquals(new long[] {1, 2, 3}, Tensors.toLongs(u[0]));
      assertArrayEquals(new long[] {1, 1, 3}, Tensors.toLongs(u[2]));
    }
  }

  @Test
  void sentinelsAreFinfo() {
    assertEquals(Float.MAX_VALUE, Tensors.posInf(ScalarType.Float), 0.0);
    assertEquals(-Double.MAX_VALUE, Tensors.negInf(ScalarType.Double), 0.0);
    assertEquals(Float.MIN_NORMAL, Tensors.smallVal(ScalarType.Float), 0.0);
    assertThrows(IllegalArgumentException.class, () -> Tensors.posInf(ScalarType.Long));
  }

  @Test
  void raggedMatrixIsRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Tensors.of(new double[][] {{1, 2}, {3}}, ScalarType.Double));
    assertTrue(e.getMessage().contains("ragged"));
  }

  @Test
  void ownedTensorsSurviveTheirScopesUntilTheOwnerCloses() {
    Tensor kept;
    Tensor outer;
    Tensor replaced;
    try (Owner owner = new Owner()) {
      try (Scope s = Scope.open()) {
        outer = torch.ones(4);
        try (Scope inner = Scope.open()) {
          kept = owner.own(torch.ones(3));
          owner.own(outer); // made in the outer scope: detached from it too
          owner.own(outer); // held once
        }
        replaced = owner.own(torch.ones(5));
        Tensor fresh = owner.replace(replaced, torch.ones(6));
        assertEquals(6.0, fresh.sum().item_double(), 0.0);
      }
      assertEquals(3.0, kept.sum().item_double(), 0.0);
      assertEquals(4.0, outer.sum().item_double(), 0.0);
      assertEquals(3, owner.size());
      assertTrue(replaced.isNull(), "replace frees the old tensor at once");
      Tensor loose = torch.ones(2); // made outside any scope: owning and freeing it frees it once
      owner.own(loose);
      assertNull(owner.free(loose));
      assertTrue(loose.isNull());
      assertEquals(3, owner.size());
    }
    assertTrue(kept.isNull() && outer.isNull(), "closing the owner frees what it holds");
  }
}
