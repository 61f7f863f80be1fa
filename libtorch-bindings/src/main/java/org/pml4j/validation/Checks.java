package org.pml4j.validation;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/** Input validation shared by losses, miners and wrappers: clear exceptions instead of native crashes. */
public final class Checks {
  private Checks() {}

  /**
   * Validates a {@code [N, D]} floating, finite embedding matrix and its optional {@code [N]} integer labels.
   *
   * @return the labels as int64 on the embeddings' device (null stays null)
   */
  public static Tensor checkEmbeddingsAndLabels(Tensor emb, Tensor labels, String embName, String labelName) {
    Tensors.requireFloatMatrix(emb, embName);
    if (emb.numel() > 0 && !emb.detach().isfinite().all().item_bool()) {
      throw new IllegalArgumentException(embName + " contains NaN or Inf values");
    }
    if (labels == null) {
      return null;
    }
    if (labels.dim() != 1) {
      throw new IllegalArgumentException(labelName + " must be a 1D tensor of shape (batch_size,), got shape "
          + Tensors.shapeString(labels));
    }
    if (labels.size(0) != emb.size(0)) {
      throw new IllegalArgumentException("Number of " + embName + " must equal number of " + labelName + ": "
          + emb.size(0) + " vs " + labels.size(0));
    }
    ScalarType t = labels.scalar_type().intern();
    if (t == ScalarType.Bool || labels.is_floating_point() || labels.is_complex()) {
      throw new IllegalArgumentException(labelName + " must be an integer tensor (int64), got " + t);
    }
    if (t != ScalarType.Long || !labels.device().equals(emb.device())) {
      labels = labels.to(emb.device(), ScalarType.Long);
    }
    return labels;
  }

  /**
   * Validates a reference set against the query: both checked by {@link #checkEmbeddingsAndLabels}, then equal width
   * and dtype.
   *
   * @return the reference labels as int64 (null stays null)
   */
  public static Tensor checkReference(Tensor emb, Tensor refEmb, Tensor refLabels) {
    Tensor out = checkEmbeddingsAndLabels(refEmb, refLabels, "ref_emb", "ref_labels");
    if (refEmb.size(1) != emb.size(1)) {
      throw new IllegalArgumentException(
          "embeddings and ref_emb differ in width: " + emb.size(1) + " vs " + refEmb.size(1));
    }
    Tensors.requireSameDtype(emb, "embeddings", refEmb, "ref_emb");
    return out;
  }

  /** Checks that a tuple's anchors index the query and its positives/negatives index the reference. */
  public static IndicesTuple checkIndicesTuple(IndicesTuple t, Tensor emb, Tensor ref) {
    IndicesTuple tt = t.to(emb);
    long n = emb.size(0);
    long m = ref.size(0);
    Tensor[] masks = tt.pairMasks();
    if (masks != null) {
      // Pairs given as [N, M] masks (IndicesTuple.pairsFromMasks): in range exactly when the masks have that shape.
      if (masks[0].size(0) != n || masks[0].size(1) != m) {
        throw new IllegalArgumentException("indices_tuple's pair masks have shape " + Tensors.shapeString(masks[0])
            + " but must cover the " + n + " embeddings x the " + m + " reference embeddings");
      }
      return tt;
    }
    for (int i = 0; i < tt.size(); i++) {
      boolean anchor = i == 0 || (tt.isPairs() && i == 2);
      long bound = anchor ? n : m;
      Tensor x = tt.get(i);
      if (Tensors.len(x) == 0) {
        continue;
      }
      long lo = x.min().item_long();
      long hi = x.max().item_long();
      if (lo < 0 || hi >= bound) {
        throw new IllegalArgumentException("indices_tuple[" + i + "] has values in [" + lo + ", " + hi
            + "] but must index " + (anchor ? "the " + n + " embeddings" : "the " + m + " reference embeddings"));
      }
    }
    return tt;
  }

  /** Copies {@code value} into the parameter {@code p} in place (no autograd record), checking the shape. */
  public static void copyInto(Tensor p, Tensor value, String name) {
    if (!java.util.Arrays.equals(Tensors.shape(p), Tensors.shape(value))) {
      throw new IllegalArgumentException("parameter '" + name + "' has shape " + Tensors.shapeString(p)
          + ", got " + Tensors.shapeString(value));
    }
    try (NoGradGuard g = new NoGradGuard()) {
      p.copy_(value);
    }
  }
}
