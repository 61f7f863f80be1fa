package org.pml4j.losses;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.validation.Checks;

/**
 * PML's {@code SelfSupervisedLoss}: {@code refEmb[i]} is an augmented view of {@code embeddings[i]}, so the pair
 * {@code (i, i)} is the only positive and labels are made up as {@code arange(B)}.
 *
 * <ul>
 *   <li>symmetric (default): the inner loss sees {@code cat(embeddings, refEmb)} with labels
 *       {@code cat(arange(B), arange(B))}: both views are anchors, and same-view rows are negatives too;
 *   <li>not symmetric: {@code loss(embeddings, arange(B), refEmb, arange(B))}: anchors come only from
 *       {@code embeddings}, positives and negatives only from {@code refEmb}.
 * </ul>
 *
 * <p>The inner loss must be one of {@link #SUPPORTED_LOSSES}, checked by class name as PML does. PML's docstring
 * promises several reference views ({@code ref_emb2, …}); PML does not implement them, nor does this class.
 */
public class SelfSupervisedLoss implements MetricLoss {
  /** The inner losses PML supports ({@code supported_losses()}). */
  public static final List<String> SUPPORTED_LOSSES = List.of("AngularLoss", "CircleLoss", "ContrastiveLoss",
      "GeneralizedLiftedStructureLoss", "IntraPairVarianceLoss", "LiftedStructureLoss", "MultiSimilarityLoss",
      "NTXentLoss", "SignalToNoiseRatioContrastiveLoss", "SupConLoss", "TripletMarginLoss", "NCALoss",
      "TupletMarginLoss");

  private final BaseMetricLossFunction loss;
  private final boolean symmetric;

  /** PML's default {@code symmetric}: both views act as anchors. */
  public static final boolean DEFAULT_SYMMETRIC = true;

  /** PML's default: {@link #DEFAULT_SYMMETRIC}. */
  public SelfSupervisedLoss(BaseMetricLossFunction loss) {
    this(loss, DEFAULT_SYMMETRIC);
  }

  /**
   * @param loss the inner loss, one of {@link #SUPPORTED_LOSSES}
   * @param symmetric whether both views act as anchors (see the class comment)
   * @throws IllegalArgumentException for an unsupported loss
   */
  public SelfSupervisedLoss(BaseMetricLossFunction loss, boolean symmetric) {
    this.loss = Objects.requireNonNull(loss, "loss");
    checkLossSupport(loss.getClass().getSimpleName());
    this.symmetric = symmetric;
  }

  /**
   * PML's {@code check_loss_support}.
   *
   * @throws IllegalArgumentException "SelfSupervisedLoss not supported for NAME"
   */
  public static void checkLossSupport(String lossName) {
    if (!SUPPORTED_LOSSES.contains(lossName)) {
      throw new IllegalArgumentException("SelfSupervisedLoss not supported for " + lossName + "; supported: "
          + SUPPORTED_LOSSES);
    }
  }

  /**
   * The loss of a batch and its augmented view.
   *
   * @param embeddings {@code [B, D]} the original views
   * @param refEmb {@code [B, D]} the augmented views, row for row
   * @throws IllegalArgumentException when {@code refEmb} is missing or its shape differs from {@code embeddings}
   */
  public Tensor forward(Tensor embeddings, Tensor refEmb) {
    if (embeddings == null || refEmb == null) {
      throw new IllegalArgumentException("SelfSupervisedLoss needs embeddings and ref_emb");
    }
    if (embeddings.dim() != 2 || refEmb.dim() != 2 || embeddings.size(0) != refEmb.size(0)
        || embeddings.size(1) != refEmb.size(1)) {
      throw new IllegalArgumentException("SelfSupervisedLoss: ref_emb must have the shape of embeddings (row i is "
          + "a view of row i): embeddings " + Tensors.shapeString(embeddings) + ", ref_emb "
          + Tensors.shapeString(refEmb));
    }
    Checks.checkEmbeddingsAndLabels(embeddings, null, "embeddings", "labels");
    Checks.checkEmbeddingsAndLabels(refEmb, null, "ref_emb", "ref_labels");
    if (Tensors.dtype(refEmb) != Tensors.dtype(embeddings)) {
      throw new IllegalArgumentException("SelfSupervisedLoss: embeddings and ref_emb differ in dtype: "
          + Tensors.dtype(embeddings) + " vs " + Tensors.dtype(refEmb));
    }
    Tensor labels = Tensors.arange(embeddings.size(0), embeddings);
    if (symmetric) {
      return loss.forward(Tensors.cat(0, embeddings, refEmb), Tensors.cat(0, labels, labels), null, null, null);
    }
    return loss.forward(embeddings, labels, null, refEmb, labels.clone());
  }

  /**
   * {@link MetricLoss} entry point: {@code forward(embeddings, null, null, refEmb, null)}.
   *
   * @throws IllegalArgumentException when labels, an indices tuple or ref labels are given (the labels are implied)
   */
  @Override
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    if (labels != null || indicesTuple != null || refLabels != null) {
      throw new IllegalArgumentException("SelfSupervisedLoss takes only embeddings and ref_emb: labels are "
          + "arange(batch), so labels, indices_tuple and ref_labels cannot be given");
    }
    return forward(embeddings, refEmb);
  }

  /** The inner loss's parameters as {@code loss.<name>} (PML's {@code named_parameters()}). */
  @Override
  public Map<String, Tensor> parameters() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : loss.parameters().entrySet()) {
      out.put("loss." + e.getKey(), e.getValue());
    }
    return Collections.unmodifiableMap(out);
  }

  @Override
  public void setParameter(String name, Tensor value) {
    if (!name.startsWith("loss.") || !loss.parameters().containsKey(name.substring(5))) {
      throw new IllegalArgumentException("SelfSupervisedLoss has no parameter '" + name + "'; it has "
          + parameters().keySet());
    }
    loss.setParameter(name.substring(5), value);
  }

  @Override
  public void toParameters(ScalarType dtype, Device device) {
    loss.toParameters(dtype, device);
  }

  public BaseMetricLossFunction loss() {
    return loss;
  }

  public boolean symmetric() {
    return symmetric;
  }

  @Override
  public String toString() {
    return "SelfSupervisedLoss(loss=" + loss + ", symmetric=" + symmetric + ")";
  }

  /** Registry factory: {@code loss} (a spec), {@code symmetric} (default {@link #DEFAULT_SYMMETRIC}). */
  public static SelfSupervisedLoss fromSpec(Params p) {
    Object loss = p.getComponent("loss", Object.class);
    if (loss == null) {
      throw new IllegalArgumentException("SelfSupervisedLoss needs a loss");
    }
    if (!(loss instanceof BaseMetricLossFunction l)) {
      checkLossSupport(loss.getClass().getSimpleName()); // throws PML's message
      throw new IllegalArgumentException("SelfSupervisedLoss needs a metric loss, got " + loss);
    }
    return new SelfSupervisedLoss(l, p.getBool("symmetric", DEFAULT_SYMMETRIC));
  }
}
