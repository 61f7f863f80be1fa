package org.pml4j.losses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.pml4j.miners.MultiSimilarityMiner;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * CrossBatchMemory's optional warm-up (beyond PML). The default, 0, is PML's behaviour, which the golden
 * cross_batch_memory cases check call by call; here: with K > 0 the first K calls see only the batch and call K + 1
 * uses the memory, which already holds the warm-up batches.
 */
class CrossBatchMemoryWarmUpTest {
  private static final double TOL = 1e-12;
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
    torch.manual_seed(7);
  }

  @AfterEach
  void close() {
    scope.close();
  }

  private static Tensor batch() {
    return torch.randn(6, 3).to(ScalarType.Double);
  }

  private static final Tensor[] LABELS = {Tensors.longs(0, 0, 1, 1, 2, 2), Tensors.longs(1, 2, 0, 1, 2, 0),
      Tensors.longs(2, 2, 0, 0, 1, 1), Tensors.longs(0, 1, 2, 0, 1, 2)};

  @Test
  void defaultIsNoWarmUp() {
    assertEquals(0, new CrossBatchMemory(new ContrastiveLoss(), 3).warmUp());
    assertEquals(0, Registry.build("{\"class\":\"CrossBatchMemory\",\"params\":{\"loss\":\"ContrastiveLoss\","
        + "\"embedding_size\":3}}", CrossBatchMemory.class).warmUp());
    assertEquals(0, Registry.build("{\"class\":\"CrossBatchMemory\",\"params\":{\"loss\":\"ContrastiveLoss\","
        + "\"embedding_size\":3,\"warm_up\":0}}", CrossBatchMemory.class).warmUp());
  }

  @Test
  void firstKCallsUseOnlyTheBatchThenTheMemory() {
    int k = 2;
    ContrastiveLoss inner = new ContrastiveLoss();
    CrossBatchMemory pml = new CrossBatchMemory(new ContrastiveLoss(), 3, 32, null);
    CrossBatchMemory warm = new CrossBatchMemory(new ContrastiveLoss(), 3, 32, null).withWarmUp(k);
    assertEquals(k, warm.warmUp());
    Tensor[] emb = {batch(), batch(), batch(), batch()};

    for (int call = 0; call < k; call++) {
      double batchOnly = inner.forward(emb[call], LABELS[call]).item_double();
      double w = warm.forward(emb[call], LABELS[call]).item_double();
      double p = pml.forward(emb[call], LABELS[call]).item_double();
      assertEquals(batchOnly, w, TOL, "warm-up call " + (call + 1) + " = the inner loss on the batch alone");
      if (call > 0) {
        assertNotEquals(p, w, 1e-6, "without warm-up call " + (call + 1) + " already uses the memory");
      }
    }
    // the warm-up calls filled the memory as usual
    assertEquals(pml.queueIdx(), warm.queueIdx());
    assertEquals(12, warm.queueIdx());
    for (int call = k; call < emb.length; call++) {
      double w = warm.forward(emb[call], LABELS[call]).item_double();
      assertEquals(pml.forward(emb[call], LABELS[call]).item_double(), w, TOL,
          "call " + (call + 1) + " uses the memory, like PML");
      assertNotEquals(inner.forward(emb[call], LABELS[call]).item_double(), w, 1e-6);
    }

    // resetQueue restarts the warm-up
    warm.resetQueue();
    assertEquals(inner.forward(emb[3], LABELS[3]).item_double(), warm.forward(emb[3], LABELS[3]).item_double(), TOL);
  }

  @Test
  void warmUpCallsMineWithinTheBatch() {
    MultiSimilarityMiner miner = new MultiSimilarityMiner(0.1, null);
    ContrastiveLoss inner = new ContrastiveLoss();
    CrossBatchMemory warm = Registry.build("{\"class\":\"CrossBatchMemory\",\"params\":{\"loss\":\"ContrastiveLoss\","
        + "\"embedding_size\":3,\"memory_size\":32,\"miner\":{\"class\":\"MultiSimilarityMiner\","
        + "\"params\":{\"epsilon\":0.1}},\"warm_up\":1}}", CrossBatchMemory.class);
    assertEquals(1, warm.warmUp());
    Tensor e = batch();
    double expected = inner.forward(e, LABELS[0], miner.forward(e, LABELS[0])).item_double();
    assertEquals(expected, warm.forward(e, LABELS[0]).item_double(), TOL);
  }

  @Test
  void warmUpGradientReachesTheBatch() {
    CrossBatchMemory warm = new CrossBatchMemory(new ContrastiveLoss(), 3, 32, null).withWarmUp(1);
    Tensor e = batch().requires_grad_(true);
    Tensor loss = warm.forward(e, LABELS[0]);
    loss.backward();
    assertTrue(e.grad().defined() && e.grad().abs().sum().item_double() > 0);
  }

  @Test
  void negativeWarmUpIsRejected() {
    CrossBatchMemory cbm = new CrossBatchMemory(new ContrastiveLoss(), 3);
    String m = assertThrows(IllegalArgumentException.class, () -> cbm.withWarmUp(-1)).getMessage();
    assertTrue(m.contains("warm-up steps must be >= 0"), m);
  }
}
