package org.pml4j.losses;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.miners.BaseMiner;
import org.pml4j.spec.Params;
import org.pml4j.spec.SpecException;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * PML's {@code MultipleLosses}: a weighted sum of losses, each optionally fed by its own miner:
 * {@code total = Σ_i weights[i] · losses[i](embeddings, labels, miners[i](embeddings, labels))}, in the order the
 * losses were given. A loss without a miner receives the caller's {@code indicesTuple} (null: all tuples).
 *
 * <p>Two forms, as in PML: a list (keys {@code "0"}, {@code "1"}, …; miners a list of the same length, with nulls for
 * "no miner"; weights a list of the same length) or a map (miner keys a subset of the loss keys; weight keys exactly
 * the loss keys). Learnable parameters are qualified as PML's {@code named_parameters()}: {@code losses.<key>.<name>}.
 *
 * <p>As in PML, a caller's {@code indicesTuple} is rejected when miners are configured, and no reference set is
 * supported. Beyond PML: an empty set of losses is rejected (PML would return the Python int 0, not a tensor), and a
 * null value in the map of miners means "no miner" (PML would fail calling it).
 */
public class MultipleLosses implements MetricLoss {
  private final boolean isMap;
  private final LinkedHashMap<String, MetricLoss> losses;
  /** null when no miners were given (PML's {@code self.miners = None}). */
  private final LinkedHashMap<String, BaseMiner> miners;
  private final LinkedHashMap<String, Double> weights;

  /** The unweighted sum of the losses, no miners. */
  public MultipleLosses(List<? extends MetricLoss> losses) {
    this(losses, null, null);
  }

  /**
   * The list form.
   *
   * @param losses the losses, in summation order
   * @param miners null, or one entry per loss (null entries: that loss gets the caller's tuple)
   * @param weights null (all 1), or one weight per loss
   * @throws IllegalArgumentException when the sizes do not match (PML's assertions) or a loss is null
   */
  public MultipleLosses(List<? extends MetricLoss> losses, List<? extends BaseMiner> miners, List<Double> weights) {
    Objects.requireNonNull(losses, "losses");
    this.isMap = false;
    this.losses = new LinkedHashMap<>();
    for (int i = 0; i < losses.size(); i++) {
      this.losses.put(Integer.toString(i), requireLoss(losses.get(i), Integer.toString(i)));
    }
    requireNonEmpty();
    if (miners != null) {
      if (miners.size() != losses.size()) {
        throw new IllegalArgumentException("miners must have one entry per loss: " + losses.size() + " losses, "
            + miners.size() + " miners");
      }
      this.miners = new LinkedHashMap<>();
      for (int i = 0; i < miners.size(); i++) {
        this.miners.put(Integer.toString(i), miners.get(i));
      }
    } else {
      this.miners = null;
    }
    this.weights = new LinkedHashMap<>();
    if (weights != null && weights.size() != losses.size()) {
      throw new IllegalArgumentException("weights must have one entry per loss: " + losses.size() + " losses, "
          + weights.size() + " weights");
    }
    for (int i = 0; i < losses.size(); i++) {
      this.weights.put(Integer.toString(i), weights == null ? 1.0 : requireWeight(weights.get(i), i));
    }
  }

  /** The unweighted sum of the losses, no miners (map form). */
  public MultipleLosses(Map<String, ? extends MetricLoss> losses) {
    this(losses, null, null);
  }

  /**
   * The map form; the sum follows the map's iteration order (use a {@link LinkedHashMap} for PML's insertion order).
   *
   * @param losses the losses by key
   * @param miners null, or miners for a subset of the loss keys
   * @param weights null (all 1), or a weight for exactly the loss keys
   * @throws IllegalArgumentException when the keys do not match (PML's assertions) or a loss is null
   */
  public MultipleLosses(Map<String, ? extends MetricLoss> losses, Map<String, ? extends BaseMiner> miners,
      Map<String, Double> weights) {
    Objects.requireNonNull(losses, "losses");
    this.isMap = true;
    this.losses = new LinkedHashMap<>();
    for (Map.Entry<String, ? extends MetricLoss> e : losses.entrySet()) {
      this.losses.put(Objects.requireNonNull(e.getKey(), "loss key"), requireLoss(e.getValue(), e.getKey()));
    }
    requireNonEmpty();
    if (miners != null) {
      for (String k : miners.keySet()) {
        if (!this.losses.containsKey(k)) {
          throw new IllegalArgumentException("miner key '" + k + "' is not a loss key; loss keys are "
              + this.losses.keySet());
        }
      }
      this.miners = new LinkedHashMap<>(miners);
    } else {
      this.miners = null;
    }
    this.weights = new LinkedHashMap<>();
    if (weights != null) {
      if (!new HashSet<>(weights.keySet()).equals(this.losses.keySet())) {
        throw new IllegalArgumentException("weight keys " + weights.keySet() + " must be exactly the loss keys "
            + this.losses.keySet());
      }
    }
    int i = 0;
    for (String k : this.losses.keySet()) {
      this.weights.put(k, weights == null ? 1.0 : requireWeight(weights.get(k), i));
      i++;
    }
  }

  private static MetricLoss requireLoss(MetricLoss l, String key) {
    if (l == null) {
      throw new IllegalArgumentException("loss '" + key + "' is null");
    }
    return l;
  }

  private static double requireWeight(Double w, int i) {
    if (w == null) {
      throw new IllegalArgumentException("weight " + i + " is null");
    }
    return w;
  }

  private void requireNonEmpty() {
    if (losses.isEmpty()) {
      throw new IllegalArgumentException("MultipleLosses needs at least one loss");
    }
  }

  /** PML's truthiness of {@code self.miners}: given and non-empty (a list of nulls counts as given). */
  private boolean hasMiners() {
    return miners != null && !miners.isEmpty();
  }

  /** The weighted sum with all tuples from the labels (or each loss's miner). */
  public Tensor forward(Tensor embeddings, Tensor labels) {
    return forward(embeddings, labels, null, null, null);
  }

  /** The weighted sum; {@code indicesTuple} goes to the losses without a miner and must be null if miners are set. */
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple) {
    return forward(embeddings, labels, indicesTuple, null, null);
  }

  /**
   * {@link MetricLoss} entry point.
   *
   * @throws IllegalArgumentException when a reference set is given (PML's forward has none), or when an
   *     {@code indicesTuple} is given while miners are configured (PML's assertion)
   */
  @Override
  public Tensor forward(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    if (refEmb != null || refLabels != null) {
      throw new IllegalArgumentException("MultipleLosses does not support ref_emb / ref_labels");
    }
    if (hasMiners() && indicesTuple != null) {
      throw new IllegalArgumentException("indices_tuple must be None when MultipleLosses has miners");
    }
    Tensor total = null;
    for (Map.Entry<String, MetricLoss> e : losses.entrySet()) {
      String k = e.getKey();
      IndicesTuple tuple = indicesTuple;
      if (hasMiners()) {
        BaseMiner m = miners.get(k);
        if (m != null) {
          tuple = m.forward(embeddings, labels);
        }
      }
      Tensor term = e.getValue().forward(embeddings, labels, tuple, null, null).mul(Tensors.s(weights.get(k)));
      // PML starts from the int 0: 0 + a == a exactly, so the first term is taken as is.
      total = total == null ? term : total.add(term);
    }
    return total;
  }

  /** Parameters of every loss as {@code losses.<key>.<name>} (PML's {@code named_parameters()}). */
  @Override
  public Map<String, Tensor> parameters() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, MetricLoss> e : losses.entrySet()) {
      for (Map.Entry<String, Tensor> p : e.getValue().parameters().entrySet()) {
        out.put("losses." + e.getKey() + "." + p.getKey(), p.getValue());
      }
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * Sets {@code losses.<key>.<name>}.
   *
   * @throws IllegalArgumentException for a name that no loss has
   */
  @Override
  public void setParameter(String name, Tensor value) {
    if (name.startsWith("losses.")) {
      String rest = name.substring("losses.".length());
      // Keys may contain dots: try the longest matching key first.
      String best = null;
      for (String k : losses.keySet()) {
        if (rest.startsWith(k + ".") && (best == null || k.length() > best.length())) {
          best = k;
        }
      }
      if (best != null) {
        MetricLoss l = losses.get(best);
        String inner = rest.substring(best.length() + 1);
        if (l.parameters().containsKey(inner)) {
          l.setParameter(inner, value);
          return;
        }
      }
    }
    throw new IllegalArgumentException("MultipleLosses has no parameter '" + name + "'; it has "
        + parameters().keySet());
  }

  @Override
  public void toParameters(ScalarType dtype, Device device) {
    for (MetricLoss l : losses.values()) {
      l.toParameters(dtype, device);
    }
  }

  /** Whether the losses were given as a map. */
  public boolean isMap() {
    return isMap;
  }

  /** The losses by key ({@code "0"}, {@code "1"}, … for the list form). */
  public Map<String, MetricLoss> losses() {
    return Collections.unmodifiableMap(losses);
  }

  /** The miners by key (null values: no miner), or null when none were given. */
  public Map<String, BaseMiner> miners() {
    return miners == null ? null : Collections.unmodifiableMap(miners);
  }

  /** The weights by key. */
  public Map<String, Double> weights() {
    return Collections.unmodifiableMap(weights);
  }

  @Override
  public String toString() {
    return "MultipleLosses(losses=" + losses + ", miners=" + miners + ", weights=" + weights + ")";
  }

  /**
   * Registry factory: {@code losses} (list or object of specs), {@code miners} (list with nulls, or object),
   * {@code weights} (list or object of numbers); lists and objects must match the form of {@code losses}.
   */
  public static MultipleLosses fromSpec(Params p) {
    JsonNode l = p.raw("losses");
    if (l == null || l.isNull()) {
      throw new IllegalArgumentException("MultipleLosses needs losses");
    }
    JsonNode m = p.raw("miners");
    JsonNode w = p.raw("weights");
    if (l.isArray()) {
      List<MetricLoss> losses = p.getComponentList("losses", MetricLoss.class);
      if (m != null && !m.isNull() && !m.isArray()) {
        throw new SpecException("MultipleLosses.miners: expected a list (losses is a list), got " + m);
      }
      List<BaseMiner> miners = p.getComponentList("miners", BaseMiner.class);
      List<Double> weights = null;
      if (w != null && !w.isNull()) {
        if (!w.isArray()) {
          throw new SpecException("MultipleLosses.weights: expected a list (losses is a list), got " + w);
        }
        weights = new ArrayList<>();
        for (double x : p.getDoubleArray("weights")) {
          weights.add(x);
        }
      }
      return new MultipleLosses(losses, miners, weights);
    }
    if (!l.isObject()) {
      throw new SpecException("MultipleLosses.losses: expected a list or an object of specs, got " + l);
    }
    Map<String, MetricLoss> losses = p.getComponentMap("losses", MetricLoss.class);
    if (m != null && !m.isNull() && !m.isObject()) {
      throw new SpecException("MultipleLosses.miners: expected an object (losses is an object), got " + m);
    }
    Map<String, BaseMiner> miners = p.getComponentMap("miners", BaseMiner.class);
    Map<String, Double> weights = null;
    if (w != null && !w.isNull()) {
      if (!w.isObject()) {
        throw new SpecException("MultipleLosses.weights: expected an object (losses is an object), got " + w);
      }
      weights = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = w.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getValue().isNumber()) {
          throw new SpecException("MultipleLosses.weights." + e.getKey() + ": expected a number, got "
              + e.getValue());
        }
        weights.put(e.getKey(), e.getValue().doubleValue());
      }
    }
    return new MultipleLosses(losses, miners, weights);
  }
}
