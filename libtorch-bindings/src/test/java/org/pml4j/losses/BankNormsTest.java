package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * CrossBatchMemory's normalized-bank cache ({@link DenseContrastive.BankNorms}): a long-lived memory that normalizes
 * only the rows written since its last step gives bit for bit the loss and gradient of a fresh memory restored from
 * the same state (which normalizes every row), through wrap-around, enqueue masks, an undone enqueue (a write the
 * cache is not told of), a reset, a dtype change and a released queue; and it does normalize only the written rows.
 */
class BankNormsTest {
  private static final int DIM = 16;
  private static final int MEMORY = 200;
  private static final int BATCH = 32;

  @AfterEach
  void restore() {
    DenseContrastive.tileOverride = 0;
    Torch.setNumThreads(1);
  }

  /** Loss value and the embeddings' gradient of one step, as float64 values. */
  private static double[] step(CrossBatchMemory cbm, Tensor emb, Tensor labels, Tensor mask) {
    try (Scope s = Scope.open()) {
      Tensor e = emb.clone().requires_grad_(true);
      Tensor l = cbm.forward(e, labels, null, mask);
      l.backward();
      double[] g = Tensors.toDoubles(e.grad());
      double[] out = new double[g.length + 1];
      out[0] = l.item_double();
      System.arraycopy(g, 0, out, 1, g.length);
      return out;
    }
  }

  /** The same step on a fresh memory holding {@code cbm}'s state: every row normalized anew. */
  private static double[] freshStep(CrossBatchMemory cbm, Tensor emb, Tensor labels, Tensor mask) {
    Map<String, Object> st = cbm.stateSnapshot();
    CrossBatchMemory fresh = new CrossBatchMemory(new ContrastiveLoss(), DIM, MEMORY, null);
    try {
      fresh.restoreState((Tensor) st.get("embedding_memory"), (Tensor) st.get("label_memory"),
          (Long) st.get("queue_idx"), (Boolean) st.get("has_been_filled"));
      return step(fresh, emb, labels, mask);
    } finally {
      fresh.releaseQueue();
    }
  }

  /**
   * The dense path does not scan the memory for NaN/Inf each step (it holds only validated batches), so a restored
   * snapshot is checked when restored: one with a NaN is refused by name and the memory stays as it was.
   */
  @Test
  void restoredMemoryWithNaNIsRefused() {
    CrossBatchMemory cbm = new CrossBatchMemory(new ContrastiveLoss(), DIM, MEMORY, null);
    try (Scope s = Scope.open()) {
      step(cbm, torch.randn(BATCH, DIM), torch.randint(4, new long[] {BATCH}), null);
      Map<String, Object> before = cbm.stateSnapshot();
      Tensor bad = torch.randn(MEMORY, DIM);
      bad.index_put_(new org.bytedeco.pytorch.TensorIndexVector(new org.bytedeco.pytorch.TensorIndex(7L)),
          Tensors.s(Double.NaN));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> cbm.restoreState(bad, torch.zeros(MEMORY).to(ScalarType.Long), 0, true));
      assertTrue(e.getMessage().contains("NaN"), e.getMessage());
      assertEquals(BATCH, cbm.queueIdx());
      assertArrayEquals(Tensors.toDoubles((Tensor) before.get("embedding_memory")),
          Tensors.toDoubles((Tensor) cbm.stateSnapshot().get("embedding_memory")), "memory unchanged");
    } finally {
      cbm.releaseQueue();
    }
  }

  @Test
  void incrementalNormalizationIsBitIdenticalToNormalizingEveryRow() {
    for (int threads : new int[] {1, 2}) {
      Torch.setNumThreads(threads);
      DenseContrastive.tileOverride = 64;
      CrossBatchMemory cbm = new CrossBatchMemory(new ContrastiveLoss(), DIM, MEMORY, null);
      torch.manual_seed(5);
      ScalarType dtype = ScalarType.Float;
      for (int step = 0; step < 24; step++) {
        try (Scope s = Scope.open()) {
          if (step == 18) {
            dtype = ScalarType.Double; // the queue moves to the batch's dtype: a new tensor
          }
          Tensor emb = torch.randn(BATCH, DIM).to(dtype);
          Tensor labels = torch.randint(4, new long[] {BATCH});
          Tensor mask = step % 5 == 3 ? torch.rand(BATCH).lt(Tensors.s(0.5)) : null;
          if (step == 9) {
            // a step undone: its write reaches the memory behind the cache's back
            CrossBatchMemory.EnqueueMark mark = cbm.markEnqueue(BATCH);
            step(cbm, torch.randn(BATCH, DIM).to(dtype), labels, null);
            cbm.undoEnqueue(mark);
          }
          if (step == 14) {
            cbm.resetQueue();
          }
          double[] want = freshStep(cbm, emb, labels, mask);
          long before = cbm.bankNorms.rowsNormalized;
          double[] got = step(cbm, emb, labels, mask);
          assertArrayEquals(want, got, "step " + step + ", threads " + threads);
          assertTrue(Math.abs(got[0]) > 1e-4, "a nonzero loss at step " + step);
          long rows = cbm.bankNorms.rowsNormalized - before;
          boolean full = cbm.hasBeenFilled() && step > 8 && step != 9 && step != 10 && step != 14 && step != 15
              && step != 18 && mask == null;
          if (full) {
            assertEquals(BATCH, rows, "rows normalized at step " + step + " (only the batch's slots)");
          }
        }
      }
      cbm.releaseQueue();
      cbm.resetQueue();
      try (Scope s = Scope.open()) {
        Tensor emb = torch.randn(BATCH, DIM);
        Tensor labels = torch.randint(4, new long[] {BATCH});
        assertArrayEquals(freshStep(cbm, emb, labels, null), step(cbm, emb, labels, null), "after a released queue");
      }
      cbm.releaseQueue();
    }
  }
}
