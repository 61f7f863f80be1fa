package org.pml4j.reducers;

import org.pml4j.spec.Params;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code MultipleReducers}: reduces each sub-loss with its own reducer (or the default, {@link MeanReducer}) and
 * returns the sum of the results.
 */
public class MultipleReducers extends BaseReducer {
  private final Map<String, BaseReducer> reducers;
  private final BaseReducer defaultReducer;

  public MultipleReducers(Map<String, BaseReducer> reducers) {
    this(reducers, null);
  }

  /**
   * @param reducers sub-loss name → reducer
   * @param defaultReducer used for sub-losses without an entry; null = {@link MeanReducer}
   */
  public MultipleReducers(Map<String, BaseReducer> reducers, BaseReducer defaultReducer) {
    if (reducers == null) {
      throw new IllegalArgumentException("reducers must not be null");
    }
    this.reducers = new LinkedHashMap<>(reducers);
    this.defaultReducer = defaultReducer == null ? new MeanReducer() : defaultReducer;
  }

  @Override
  public Tensor forward(LossDict lossDict, Tensor embeddings, Tensor labels) {
    checkArguments(lossDict, embeddings);
    Tensor[] values = new Tensor[lossDict.size()];
    int i = 0;
    for (Map.Entry<String, LossInfo> e : lossDict.entrySet()) {
      BaseReducer r = reducers.getOrDefault(e.getKey(), defaultReducer);
      Tensor v = r.forward(LossDict.of(e.getKey(), e.getValue()), embeddings, labels);
      values[i++] = v.reshape().to(embeddings.scalar_type().intern());
    }
    if (values.length == 0) {
      return zeroLoss(embeddings);
    }
    return Tensors.stack(0, values).sum();
  }

  public Map<String, BaseReducer> reducers() {
    return java.util.Collections.unmodifiableMap(reducers);
  }

  public BaseReducer defaultReducer() {
    return defaultReducer;
  }

  @Override
  protected Tensor elementReduction(Tensor l, Tensor i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("unreachable");
  }

  @Override
  protected Tensor posPairReduction(Tensor l, Tensor[] i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("unreachable");
  }

  @Override
  protected Tensor negPairReduction(Tensor l, Tensor[] i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("unreachable");
  }

  @Override
  protected Tensor tripletReduction(Tensor l, Tensor[] i, Tensor e, Tensor y, LossInfo info) {
    throw new IllegalStateException("unreachable");
  }

  /** Registry factory: {@code reducers} (name → spec), {@code default_reducer}. */
  public static MultipleReducers fromSpec(Params p) {
    p.collectStats();
    Map<String, BaseReducer> r = p.getComponentMap("reducers", BaseReducer.class);
    if (r == null) {
      throw new IllegalArgumentException("MultipleReducers needs reducers");
    }
    return new MultipleReducers(r, p.getComponent("default_reducer", BaseReducer.class));
  }
}
