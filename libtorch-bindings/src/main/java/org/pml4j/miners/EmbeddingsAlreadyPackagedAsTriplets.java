package org.pml4j.miners;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.validation.Checks;

/**
 * PML's {@code EmbeddingsAlreadyPackagedAsTriplets}: the batch is already laid out as consecutive triplets, so the
 * output is {@code (0, 1, 2), (3, 4, 5), …}. Labels and the reference set are ignored (labels and ref_labels may be
 * null, as in PML). The batch size must be a multiple of 3; PML fails there with a bare assertion, pml4j with a
 * clear error.
 *
 * <p>The triplets always index the batch, also when a {@code ref_emb} is given (validated: a matrix of the batch's
 * dtype and width), even one with fewer rows than the batch: PML returns them so (golden cases
 * {@code s0-miner-EmbeddingsAlreadyPackagedAsTriplets-005/007}: 30 rows, an 18-row reference). A loss given this
 * tuple together with that smaller {@code ref_emb} rejects it ({@code indices_tuple[1] has values in [..] but must
 * index the 18 reference embeddings}).
 */
public class EmbeddingsAlreadyPackagedAsTriplets extends BaseMiner {

  public EmbeddingsAlreadyPackagedAsTriplets() {
    super(null);
  }

  /**
   * PML accepts the common miner keyword {@code distance} here too and never uses it for mining.
   *
   * @param distance null for the default LpDistance (only reported by {@link #distance()})
   */
  public EmbeddingsAlreadyPackagedAsTriplets(BaseDistance distance) {
    super(distance);
  }

  /**
   * Like {@link BaseMiner#forward(Tensor, Tensor, Tensor, Tensor)}, but labels are optional (PML never reads them).
   *
   * @throws IllegalArgumentException if the batch size is not a multiple of 3, or on bad shapes
   */
  @Override
  public IndicesTuple forward(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    if (labels != null && (refEmb == null || refLabels != null)) {
      return super.forward(embeddings, labels, refEmb, refLabels);
    }
    Checks.checkEmbeddingsAndLabels(embeddings, labels, "embeddings", "labels");
    if (refEmb != null) {
      Checks.checkReference(embeddings, refEmb, refLabels);
    }
    try (NoGradGuard g = new NoGradGuard()) {
      return mine(embeddings, null, refEmb == null ? embeddings : refEmb, refLabels);
    }
  }

  @Override
  protected IndicesTuple mine(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    long n = embeddings.size(0);
    if (n % 3 != 0) {
      throw new IllegalArgumentException("EmbeddingsAlreadyPackagedAsTriplets requires the batch size to be a "
          + "multiple of 3 (consecutive anchor, positive, negative), got " + n);
    }
    Tensor a = torch.arange(Tensors.s(0L), Tensors.s(n), Tensors.s(3L), Tensors.options(ScalarType.Long, embeddings));
    return IndicesTuple.triplets(a, a.add(Tensors.s(1L)), a.add(Tensors.s(2L)));
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "()";
  }

  /** Registry factory: {@code collect_stats} only. */
  public static EmbeddingsAlreadyPackagedAsTriplets fromSpec(Params p) {
    BaseDistance d = p.getComponent("distance", BaseDistance.class);
    p.collectStats();
    return new EmbeddingsAlreadyPackagedAsTriplets(d);
  }
}
