package org.pml4j.miners;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.validation.Checks;

/**
 * PML's {@code BaseMiner}: picks informative pairs or triplets from a batch (and optionally a reference set) without
 * gradients. The output indexes the embeddings (anchors) and the reference (positives/negatives) and is passed to a
 * loss as its {@code indicesTuple}.
 */
public abstract class BaseMiner {
  static {
    Torch.ensureLoaded();
  }

  protected final BaseDistance distance;

  /** @param distance null for this miner's default */
  protected BaseMiner(BaseDistance distance) {
    this.distance = distance == null ? defaultDistance() : distance;
  }

  protected BaseDistance defaultDistance() {
    return new LpDistance();
  }

  /** Mines within the batch. */
  public IndicesTuple forward(Tensor embeddings, Tensor labels) {
    return forward(embeddings, labels, null, null);
  }

  /**
   * Mines tuples whose anchors come from {@code embeddings} and whose positives/negatives come from {@code refEmb}
   * (null: the batch itself). Runs without autograd.
   *
   * @throws IllegalArgumentException on missing labels or bad shapes, dtypes or values
   */
  public IndicesTuple forward(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    try (NoGradGuard g = new NoGradGuard()) {
      if (labels == null) {
        throw new IllegalArgumentException(getClass().getSimpleName() + " requires labels");
      }
      labels = Checks.checkEmbeddingsAndLabels(embeddings, labels, "embeddings", "labels");
      if (refEmb == null) {
        if (refLabels != null) {
          throw new IllegalArgumentException("ref_labels given without ref_emb");
        }
        refEmb = embeddings;
        refLabels = labels;
      } else {
        if (refLabels == null) {
          throw new IllegalArgumentException(getClass().getSimpleName() + " requires ref_labels with ref_emb");
        }
        refLabels = Checks.checkReference(embeddings, refEmb, refLabels);
      }
      IndicesTuple out = mine(embeddings, labels, refEmb, refLabels);
      if (out == null || (out.size() != 3 && out.size() != 4)) {
        throw new IllegalStateException(getClass().getSimpleName() + " must return a 3- or 4-tuple");
      }
      return out;
    }
  }

  /** PML's {@code mine}: inputs are validated, the reference resolved (same objects when absent), no grad. */
  protected abstract IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels);

  /** An empty int64 tensor on the device of {@code like}. */
  protected static Tensor empty(Tensor like) {
    return Tensors.emptyLong(like);
  }

  public BaseDistance distance() {
    return distance;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(distance=" + distance + ")";
  }
}
