package org.pml4j.losses;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.DoNothingReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.MultipleReducers;
import org.pml4j.regularizers.BaseRegularizer;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.validation.Checks;
import org.pml4j.validation.Inputs;

/**
 * PML's {@code BaseMetricLossFunction}. A loss is a small subclass whose {@link #computeLoss} returns a loss dict; this
 * class validates inputs, resolves the reference set, adds the embedding regularizer, and reduces.
 *
 * <p>Call flow of {@link #forward(Tensor, Tensor, IndicesTuple, Tensor, Tensor)}: validate shapes, dtypes and finite
 * values → {@code refEmb, refLabels = embeddings, labels} when no reference is given (the <em>same</em> Java objects,
 * which PML's identity checks rely on) → {@code computeLoss} → {@code embedding_reg_loss} → reducer.
 *
 * <p>Reducer wrapping follows PML: a loss with one sub-loss uses the given reducer (or its default); a loss with
 * several sub-losses (including regularizer terms) wraps one copy per sub-loss into {@link MultipleReducers}, which
 * sums them.
 */
public abstract class BaseMetricLossFunction implements MetricLoss {
  static {
    Torch.ensureLoaded();
  }

  /** The options as given (null fields = defaults); set first, so hooks called from this constructor can read it. */
  protected final LossOptions options;
  protected final BaseDistance distance;
  protected final BaseReducer reducer;
  protected final BaseRegularizer embeddingRegularizer;
  protected final double embeddingRegWeight;

  protected BaseMetricLossFunction(LossOptions options) {
    LossOptions o = options == null ? LossOptions.defaults() : options;
    this.options = o;
    this.embeddingRegularizer = o.embeddingRegularizer();
    this.embeddingRegWeight = o.embeddingRegWeight();
    this.distance = o.distance() == null ? defaultDistance() : o.distance();
    this.reducer = resolveReducer(o.reducer());
  }

  /** PML's {@code get_default_distance()}; called from the constructor, so it must not read subclass fields. */
  protected BaseDistance defaultDistance() {
    return new LpDistance();
  }

  /** PML's {@code get_default_reducer()}; called from the constructor. */
  protected BaseReducer defaultReducer() {
    return new MeanReducer();
  }

  /** PML's {@code _sub_loss_names()}; called from the constructor. */
  protected List<String> baseSubLossNames() {
    return List.of("loss");
  }

  /** Names of the regularization sub-losses present, in PML's MRO order. */
  protected List<String> regularizationLossNames() {
    return options.embeddingRegularizer() != null ? List.of("embedding_reg_loss") : List.of();
  }

  /** Every sub-loss name, regularizers included. */
  public List<String> subLossNames() {
    List<String> names = new ArrayList<>(baseSubLossNames());
    names.addAll(regularizationLossNames());
    return names;
  }

  private BaseReducer resolveReducer(BaseReducer given) {
    if (given instanceof MultipleReducers || given instanceof DoNothingReducer) {
      return given;
    }
    List<String> names = subLossNames();
    if (names.size() == 1) {
      return given == null ? defaultReducer() : given;
    }
    Map<String, BaseReducer> map = new LinkedHashMap<>();
    for (String n : names) {
      // PML deep-copies a user reducer per sub-loss; pml4j reducers hold no per-call state, so sharing is equivalent.
      map.put(n, given == null ? defaultReducer() : given);
    }
    return new MultipleReducers(map);
  }

  /** The loss of {@code embeddings} with all pairs/triplets from {@code labels}. */
  public Tensor forward(Tensor embeddings, Tensor labels) {
    return forward(embeddings, labels, null, null, null);
  }

  /** The loss restricted to (or weighted by) a mined tuple. */
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple) {
    return forward(embeddings, labels, indicesTuple, null, null);
  }

  /**
   * The reduced loss, a scalar tensor attached to the autograd graph.
   *
   * @param embeddings {@code [B, D]} float32 or float64
   * @param labels {@code [B]} integer labels, or null when {@code indicesTuple} is given (where the loss allows it)
   * @param indicesTuple mined pairs or triplets, or null
   * @param refEmb {@code [M, D]} reference embeddings, or null for the batch itself
   * @param refLabels {@code [M]} labels of the reference embeddings
   * @throws IllegalArgumentException on bad shapes, dtypes, non-finite values or unsupported inputs
   */
  @Override
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    Inputs in = Inputs.validate(embeddings, labels, indicesTuple, refEmb, refLabels);
    return reducer.forward(forwardLossDict(in), in.embeddings(), in.labels());
  }

  /**
   * The loss dict that {@link #forward(Tensor, Tensor, IndicesTuple, Tensor, Tensor)} hands to the reducer, for
   * validated inputs: the {@link #lossDict} one. A loss may return entries already reduced where its reducer gives the
   * same result (TripletMarginLoss's masked-triplet kernel); {@code lossDict} itself stays PML's.
   */
  LossDict forwardLossDict(Inputs in) {
    return lossDict(in);
  }

  /**
   * The unreduced loss dict (with {@code embedding_reg_loss} when configured): what a {@link DoNothingReducer}
   * returns in PML. Arguments as for {@link #forward(Tensor, Tensor, IndicesTuple, Tensor, Tensor)}.
   */
  public LossDict lossDict(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    return lossDict(Inputs.validate(embeddings, labels, indicesTuple, refEmb, refLabels));
  }

  private LossDict lossDict(Inputs in) {
    LossDict dict = in.embeddings().size(0) == 0
        ? zeroLosses()
        : computeLoss(in.embeddings(), in.labels(), in.indicesTuple(), in.refEmb(), in.refLabels());
    addEmbeddingRegularization(dict, in.embeddings());
    return dict;
  }

  /** PML's {@code compute_loss}: the loss dict for validated inputs. */
  protected abstract LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels);

  protected void addEmbeddingRegularization(LossDict dict, Tensor embeddings) {
    if (embeddingRegularizer != null) {
      Tensor reg = embeddingRegularizer.forward(embeddings).mul(Tensors.s(embeddingRegWeight));
      dict.put("embedding_reg_loss", LossInfo.reduced(reg));
    }
  }

  /** PML's {@code zero_loss()}. */
  protected static LossInfo zeroLoss() {
    return LossInfo.zero();
  }

  /** PML's {@code zero_losses()}: the zero loss for every sub-loss name. */
  protected LossDict zeroLosses() {
    LossDict d = new LossDict();
    for (String n : subLossNames()) {
      d.put(n, LossInfo.zero());
    }
    return d;
  }

  /** Learnable parameters by PML's {@code named_parameters()} name (empty for most losses). */
  @Override
  public Map<String, Tensor> parameters() {
    return Collections.emptyMap();
  }

  /**
   * Replaces a learnable parameter's values (for checkpoints and conformance cases); the tensor keeps its identity and
   * {@code requires_grad}.
   *
   * @throws IllegalArgumentException for an unknown name or a shape mismatch
   */
  @Override
  public void setParameter(String name, Tensor value) {
    Tensor p = parameters().get(name);
    if (p == null) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " has no parameter '" + name + "'; it has "
          + parameters().keySet());
    }
    Checks.copyInto(p, value, name);
  }

  /** Moves learnable parameters to a dtype/device (no-op for losses without parameters). */
  @Override
  public void toParameters(org.bytedeco.pytorch.global.torch.ScalarType dtype, org.bytedeco.pytorch.Device device) {}

  /** The reducer that reduces sub-loss {@code name} (the entry of a {@link MultipleReducers}, or the reducer). */
  protected BaseReducer reducerFor(String name) {
    if (reducer instanceof MultipleReducers m) {
      return m.reducers().getOrDefault(name, m.defaultReducer());
    }
    return reducer;
  }

  public BaseDistance distance() {
    return distance;
  }

  public BaseReducer reducer() {
    return reducer;
  }

  public BaseRegularizer embeddingRegularizer() {
    return embeddingRegularizer;
  }

  public double embeddingRegWeight() {
    return embeddingRegWeight;
  }

  // ------------------------------------------------------------ PML's input guards, for subclasses

  /** PML's {@code ref_not_supported}. */
  protected static void refNotSupported(Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels) {
    if (refEmb != embeddings || refLabels != labels) {
      throw new IllegalArgumentException("ref_emb is not supported for this loss function");
    }
  }

  /** PML's {@code indices_tuple_not_supported}. */
  protected static void indicesTupleNotSupported(IndicesTuple t) {
    if (t != null) {
      throw new IllegalArgumentException("indices_tuple is not supported for this loss function");
    }
  }

  /** PML's {@code labels_required}. */
  protected static void labelsRequired(Tensor labels) {
    if (labels == null) {
      throw new IllegalArgumentException("labels are required for this loss function");
    }
  }

  /** PML's {@code labels_or_indices_tuple_required}. */
  protected static void labelsOrIndicesTupleRequired(Tensor labels, IndicesTuple t) {
    if (labels == null && t == null) {
      throw new IllegalArgumentException("labels and indices_tuple cannot both be None");
    }
  }

  /** PML's {@code assert_distance_type}: rejects a distance of the wrong class or settings. */
  protected void requireDistance(Class<? extends BaseDistance> type, Boolean inverted, Boolean normalized) {
    if (type != null && !type.isInstance(distance)) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " requires the distance to be "
          + type.getSimpleName() + ", got " + distance.getClass().getSimpleName());
    }
    if (inverted != null && distance.isInverted() != inverted) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " requires distance.is_inverted == " + inverted);
    }
    if (normalized != null && distance.normalizeEmbeddings() != normalized) {
      throw new IllegalArgumentException(
          getClass().getSimpleName() + " requires distance.normalize_embeddings == " + normalized);
    }
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(distance=" + distance + ", reducer=" + reducer + ")";
  }
}
