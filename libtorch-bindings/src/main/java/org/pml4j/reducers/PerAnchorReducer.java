package org.pml4j.reducers;

import org.pml4j.spec.Params;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code PerAnchorReducer}: scatters pair losses into an {@code N×N} matrix (N = batch size), averages each
 * anchor's row over its filled cells (rows without pairs give 0), and hands the per-anchor losses to an inner reducer
 * as element losses. Triplets are not supported (as in PML). Like PML it assumes the reference set is the batch.
 */
public class PerAnchorReducer extends BaseReducer {
  private final BaseReducer reducer;

  public PerAnchorReducer() {
    this(null);
  }

  /** @param reducer the inner reducer; null = {@link MeanReducer} */
  public PerAnchorReducer(BaseReducer reducer) {
    this.reducer = reducer == null ? new MeanReducer() : reducer;
  }

  @Override
  protected Tensor elementReduction(Tensor losses, Tensor indices, Tensor embeddings, Tensor labels, LossInfo info) {
    return reducer.forward(LossDict.of("loss", LossInfo.element(losses, indices)), embeddings, labels);
  }

  protected Tensor tupleReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels) {
    long n = embeddings.size(0);
    double posInf = Tensors.posInf(losses.scalar_type().intern());
    Tensor arr = Tensors.zeros(losses, n, n).add(Tensors.s(posInf));
    Tensors.put2(arr, indices[0], indices[1], losses);
    Tensor infMask = arr.eq(Tensors.s(posInf));
    Tensor numInf = infMask.sum(new long[] {1}, false, new org.bytedeco.pytorch.ScalarTypeOptional());
    arr = arr.masked_fill(infMask, Tensors.s(0.0));
    Tensor numPerRow = numInf.neg().add(Tensors.s(n));
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

  /** Always throws, as PML does. */
  @Override
  protected Tensor tripletReduction(Tensor losses, Tensor[] indices, Tensor embeddings, Tensor labels, LossInfo info) {
    throw new UnsupportedOperationException("PerAnchorReducer: Triplet reduction not supported");
  }

  public BaseReducer reducer() {
    return reducer;
  }

  /** Registry factory: {@code reducer} (spec). A custom {@code aggregation_func} cannot be given in a spec. */
  public static PerAnchorReducer fromSpec(Params p) {
    p.collectStats();
    return new PerAnchorReducer(p.getComponent("reducer", BaseReducer.class));
  }
}
