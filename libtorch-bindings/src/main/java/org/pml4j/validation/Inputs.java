package org.pml4j.validation;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.tuples.IndicesTuple;

/**
 * Validated loss inputs. When no reference set is given, {@code refEmb} and {@code refLabels} are the very same
 * objects as {@code embeddings} and {@code labels}: PML decides self-pair exclusion by that identity.
 */
public record Inputs(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb, Tensor refLabels) {
  /**
   * Checks shapes, dtypes and values, converts labels to int64 on the embeddings' device, and resolves the reference.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  public static Inputs validate(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    labels = Checks.checkEmbeddingsAndLabels(embeddings, labels, "embeddings", "labels");
    if (refEmb == null) {
      if (refLabels != null) {
        throw new IllegalArgumentException("ref_labels given without ref_emb");
      }
      refEmb = embeddings;
      refLabels = labels;
    } else {
      Tensor refLabelsIn = refLabels;
      refLabels = Checks.checkReference(embeddings, refEmb, refLabels);
      if (refLabelsIn == null && labels != null && refEmb.size(0) != embeddings.size(0)) {
        // PML then pairs labels with labels (as if ref_labels = labels) and indexes the (query x ref) matrix with
        // those batch indices: an index error when ref_emb is smaller, ref rows silently ignored when larger.
        throw new IllegalArgumentException("ref_labels are required with ref_emb when labels are given and ref_emb has "
            + "a different number of rows (" + refEmb.size(0) + ") than embeddings (" + embeddings.size(0) + ")");
      }
    }
    if (indicesTuple != null) {
      indicesTuple = Checks.checkIndicesTuple(indicesTuple, embeddings, refEmb);
    }
    return new Inputs(embeddings, labels, indicesTuple, refEmb, refLabels);
  }
}
