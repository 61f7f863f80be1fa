package org.pml4j.losses;

import org.bytedeco.pytorch.Tensor;

/** A loss called with a per-row proxy id ("meta class") instead of labels, as PML's ManifoldLoss. */
public interface MetaClassLoss {
  /** The loss of {@code embeddings} with {@code metaClasses[i]} the proxy of row i (null: drawn at random). */
  Tensor forwardMetaClasses(Tensor embeddings, Tensor metaClasses);
}
