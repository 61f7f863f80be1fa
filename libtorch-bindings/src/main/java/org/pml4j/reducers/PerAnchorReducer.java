package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code PerAnchorReducer}: scatters pair losses into an {@code N×N} matrix (N = batch size), averages each
 * anchor's row over its filled cells (rows without pairs give 0), and hands the per-anchor losses to an inner reducer
 * as element losses. Triplets are not supported (as in PML): an {@link IllegalArgumentException}.
 *
 * <p><b>PML 2.8.1 limitation kept by default:</b> the matrix is {@code N×N}, so it assumes the reference set is no
 * larger than the batch. With a larger reference (e.g. a loss given {@code ref_emb}), a pair whose reference index is
 * {@code >= N} makes PML's scatter fail; here it is an {@link IllegalArgumentException} saying so.
 * {@link #withSizeByRef(boolean) withSizeByRef(true)} (spec key {@code size_by_ref}) gives the matrix as many columns
 * as the reference needs ({@code max(N, largest reference index + 1)}); since empty cells are left out of each row's
 * average, the result is each anchor's mean over its pairs, as with a matrix sized by the whole reference. When every
 * reference index is below N both settings give PML's result.
 */
public class PerAnchorReducer extends BaseReducer {
  /** Default {@code size_by_ref}: off, PML 2.8.1's {@code N×N} matrix. */
  public static final boolean DEFAULT_SIZE_BY_REF = false;

  private final BaseReducer reducer;
  private final boolean sizeByRef;

  public PerAnchorReducer() {
    this(null);
  }

  /** @param reducer the inner reducer; null = {@link MeanReducer} */
  public PerAnchorReducer(BaseReducer reducer) {
    this(reducer, DEFAULT_SIZE_BY_REF);
  }

  private PerAnchorReducer(BaseReducer reducer, boolean sizeByRef) {
    this.reducer = reducer == null ? new MeanReducer() : reducer;
    this.sizeByRef = sizeByRef;
  }

  /**
   * Beyond PML (a fix of a PML 2.8.1 limitation, off by default): a copy of this reducer whose per-anchor matrix has
   * a column for every reference index, so a reference set larger than the batch works.
   *
   * @param fix true to size the matrix by the reference, false for PML's {@code N×N}
   * @return a new reducer with the same inner reducer
   */
  public PerAnchorReducer withSizeByRef(boolean fix) {
    return new PerAnchorReducer(reducer, fix);
  }

  @Override
  protected Tensor elementReduction(Tensor losses, Tensor indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return reducer.forward(LossDict.of("loss", LossInfo.element(losses, indices)), embeddings, labels);
  }

  protected Tensor tupleReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels) {
    long n = embeddings.size(0);
    long cols = n;
    checkIndexRange(indices[0], "anchor indices", n, "rows of embeddings");
    checkIndexRange(indices[1], "reference indices", Long.MAX_VALUE, "reference rows");
    if (Tensors.len(indices[1]) > 0) {
      long maxRef = indices[1].max().item_long();
      if (maxRef >= n) {
        if (!sizeByRef) {
          throw new IllegalArgumentException("PerAnchorReducer (as PML 2.8.1) scatters pair losses into a " + n + "x"
              + n + " matrix (batch size squared), but a pair has reference index " + maxRef + ": the reference set "
              + "is larger than the batch. Use withSizeByRef(true) (spec key size_by_ref) to size the matrix by the "
              + "reference");
        }
        cols = maxRef + 1;
      }
    }
    double posInf = Tensors.posInf(losses.scalar_type().intern());
    Tensor arr = Tensors.zeros(losses, n, cols).add(Tensors.s(posInf));
    Tensors.put2(arr, indices[0], indices[1], losses);
    Tensor infMask = arr.eq(Tensors.s(posInf));
    Tensor numInf = infMask.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
    arr = arr.masked_fill(infMask, Tensors.s(0.0));
    Tensor numPerRow = numInf.neg().add(Tensors.s(cols));
    Tensor out = arr.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional()).div(numPerRow);
    out = out.masked_fill(numPerRow.eq(Tensors.s(0L)), Tensors.s(0.0));
    return reducer.forward(LossDict.of("loss", LossInfo.element(out, Tensors.arange(n, embeddings))), embeddings,
        labels);
  }

  @Override
  protected Tensor posPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return tupleReduction(losses, indices, embeddings, labels);
  }

  @Override
  protected Tensor negPairReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return tupleReduction(losses, indices, embeddings, labels);
  }

  /**
   * Always throws, as PML does ({@code NotImplementedError}): per-anchor averaging is defined for pair losses.
   *
   * @throws IllegalArgumentException always
   */
  @Override
  protected Tensor tripletReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    throw new IllegalArgumentException("PerAnchorReducer cannot reduce triplet losses (reduction_type 'triplet'; PML: "
        + "\"Triplet reduction not supported\"): use it with a pair or element loss, or use another reducer");
  }

  public BaseReducer reducer() {
    return reducer;
  }

  /** Whether the matrix is sized by the reference (the fix; see {@link #withSizeByRef}). */
  public boolean sizeByRef() {
    return sizeByRef;
  }

  /**
   * Registry factory: {@code reducer} (spec), and beyond PML {@code size_by_ref} ({@link #DEFAULT_SIZE_BY_REF}; see
   * {@link #withSizeByRef}). A custom {@code aggregation_func} cannot be given in a spec.
   */
  public static PerAnchorReducer fromSpec(Params p) {
    p.collectStats();
    return new PerAnchorReducer(p.getComponent("reducer", BaseReducer.class),
        p.getBool("size_by_ref", DEFAULT_SIZE_BY_REF));
  }
}
