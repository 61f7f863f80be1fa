package org.pml4j.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.BatchedDistance;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.MetaClassLoss;
import org.pml4j.losses.MetricLoss;
import org.pml4j.losses.OutlierDetector;
import org.pml4j.losses.StatefulLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.DoNothingReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.regularizers.BaseRegularizer;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * Runs one golden case of PML through the registry, in float64 and float32, and compares every expected value.
 * A case passes when both precisions agree within the conformance README's tolerances; randomized cases are checked
 * by their invariants when the exact draw does not reproduce.
 */
public final class CaseRunner {
  /** Outcome of one case. */
  public enum Status { PASSED, FAILED, SKIPPED }

  /** One case's result; {@code message} holds the first mismatch for failures. */
  public record Result(String id, String kind, String className, Status status, String message) {}

  /** Runs a parsed case. Never throws: errors become FAILED results. */
  public Result run(JsonNode c) {
    String id = c.path("id").asText("?");
    String kind = c.path("kind").asText("?");
    String cls = c.path("class").asText("?");
    if (!Registry.isRegistered(cls)) {
      return new Result(id, kind, cls, Status.SKIPPED, cls + " is not implemented");
    }
    try {
      // PML's AccuracyCalculator casts everything to float32: accuracy cases have one (float32) run.
      ScalarType[] dtypes = kind.equals("accuracy") ? new ScalarType[] {ScalarType.Float}
          : new ScalarType[] {ScalarType.Double, ScalarType.Float};
      for (ScalarType dtype : dtypes) {
        try (Scope scope = Scope.open()) {
          runOnce(c, kind, dtype);
        } catch (Mismatch m) {
          return new Result(id, kind, cls, Status.FAILED, name(dtype) + " " + m.getMessage());
        }
      }
      return new Result(id, kind, cls, Status.PASSED, null);
    } catch (RuntimeException e) {
      if (Boolean.getBoolean("pml4j.conformance.trace")) {
        e.printStackTrace();
      }
      String msg = e.getClass().getSimpleName() + ": " + e.getMessage();
      return new Result(id, kind, cls, Status.FAILED, msg);
    }
  }

  static String name(ScalarType dtype) {
    return dtype == ScalarType.Double ? "float64" : "float32";
  }

  private void runOnce(JsonNode c, String kind, ScalarType dtype) {
    JsonNode top = c.get("expected");
    // Multi-call cases keep a float32 block per call instead of one at the top.
    JsonNode expected = dtype == ScalarType.Double || !top.has("float32") ? top : top.get("float32");
    Compare cmp = tolerance(c, dtype);
    seed(c);
    switch (kind) {
      case "distance" -> distance(c, expected, dtype, cmp);
      case "reducer" -> reducer(c, expected, dtype, cmp);
      case "regularizer" -> regularizer(c, expected, dtype, cmp);
      case "loss" -> loss(c, expected, dtype, cmp);
      case "cross_batch_memory" -> crossBatchMemory(c, expected, dtype, cmp);
      case "miner" -> miner(c, expected, dtype, c.get("expected"));
      case "accuracy" -> AccuracyCases.run(c);
      default -> throw new IllegalArgumentException("unknown case kind '" + kind + "'");
    }
  }

  static Compare tolerance(JsonNode c, ScalarType dtype) {
    if (dtype == ScalarType.Float) {
      return Compare.FLOAT32;
    }
    // Classes that compute parts in float32 even for float64 inputs say so in their notes.
    for (JsonNode n : c.path("notes")) {
      String t = n.asText();
      if (t.contains("in float32") || t.contains(".float()")) {
        return Compare.FLOAT32;
      }
    }
    return Compare.FLOAT64;
  }

  private static void seed(JsonNode c) {
    if (c.has("torch_seed")) {
      torch.manual_seed(c.get("torch_seed").asLong());
    }
  }

  static Object build(JsonNode c) {
    ObjectNode spec = JsonNodeFactory.instance.objectNode();
    spec.put("class", c.get("class").asText());
    spec.set("params", c.get("params"));
    return Registry.build(spec);
  }

  // ------------------------------------------------------------------ inputs

  /** A float tensor from JSON; values are float32 decimals widened exactly, as the generator did. */
  static Tensor floats(JsonNode n, ScalarType dtype, boolean requiresGrad) {
    if (n == null || n.isNull()) {
      return null;
    }
    double[] v = flatFloat32(n);
    long[] shape = shapeOf(n);
    Tensor t = Tensors.of(v, dtype, shape);
    return requiresGrad ? t.requires_grad_(true) : t;
  }

  static double[] flatFloat32(JsonNode n) {
    List<Double> out = new ArrayList<>();
    collect(n, out);
    double[] a = new double[out.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = out.get(i);
    }
    return a;
  }

  private static void collect(JsonNode n, List<Double> out) {
    if (n.isArray()) {
      for (JsonNode x : n) {
        collect(x, out);
      }
    } else if (n.isTextual()) {
      out.add(Compare.num(n));
    } else {
      out.add((double) Float.parseFloat(n.asText()));
    }
  }

  static long[] shapeOf(JsonNode n) {
    List<Long> s = new ArrayList<>();
    JsonNode x = n;
    while (x.isArray()) {
      s.add((long) x.size());
      if (x.size() == 0) {
        break;
      }
      x = x.get(0);
    }
    return s.stream().mapToLong(Long::longValue).toArray();
  }

  static Tensor longs(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    long[] v = new long[n.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = n.get(i).asLong();
    }
    return Tensors.longs(v);
  }

  static Tensor bools(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    boolean[] v = new boolean[n.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = n.get(i).asBoolean();
    }
    return Tensors.bools(v);
  }

  static IndicesTuple tuple(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    Tensor[] parts = new Tensor[n.size()];
    for (int i = 0; i < parts.length; i++) {
      parts[i] = longs(n.get(i));
    }
    return IndicesTuple.of(parts);
  }

  // ------------------------------------------------------------------ distance

  private void distance(JsonNode c, JsonNode e, ScalarType dtype, Compare cmp) {
    JsonNode in = c.get("inputs");
    Object built = build(c);
    Tensor q = floats(in.get("query"), dtype, true);
    Tensor r = floats(in.get("ref"), dtype, true);
    if (built instanceof BatchedDistance bd) {
      long n = q.size(0);
      long m = r == null ? n : r.size(0);
      Tensor full = Tensors.zeros(q, n, m);
      List<long[]> chunks = new ArrayList<>();
      bd.forward(q, r, (mat, s, end) -> {
        full.narrow(0, s, mat.size(0)).copy_(mat.detach());
        chunks.add(new long[] {s, end});
      });
      cmp.array("mat", e.get("mat"), Tensors.toDoubles(full));
      JsonNode ec = e.get("chunks");
      if (ec.size() != chunks.size()) {
        throw new Mismatch("chunks: expected " + ec.size() + " calls, got " + chunks.size());
      }
      for (int i = 0; i < chunks.size(); i++) {
        if (ec.get(i).get(0).asLong() != chunks.get(i)[0] || ec.get(i).get(1).asLong() != chunks.get(i)[1]) {
          throw new Mismatch("chunks[" + i + "]: expected " + ec.get(i) + ", got " + Arrays.toString(chunks.get(i)));
        }
      }
      return;
    }
    BaseDistance d = (BaseDistance) built;
    Tensor mat = d.forward(q, r);
    cmp.array("mat", e.get("mat"), Tensors.toDoubles(mat));
    if (e.has("grad_query") && !e.get("grad_query").isNull()) {
      Tensor up = floats(in.get("upstream_grad"), dtype, false);
      mat.mul(up).sum().backward();
      cmp.array("grad_query", e.get("grad_query"), Tensors.toDoubles(q.grad()));
      if (r != null && e.has("grad_ref") && !e.get("grad_ref").isNull()) {
        cmp.array("grad_ref", e.get("grad_ref"), Tensors.toDoubles(r.grad()));
      }
    }
    if (e.has("pairwise_distance")) {
      Tensor pd = d.pairwiseDistance(floats(in.get("pair_a"), dtype, false), floats(in.get("pair_b"), dtype, false));
      cmp.array("pairwise_distance", e.get("pairwise_distance"), Tensors.toDoubles(pd));
    }
    if (e.has("maybe_normalize_query")) {
      cmp.array("maybe_normalize_query", e.get("maybe_normalize_query"), Tensors.toDoubles(d.maybeNormalize(q)));
    }
    if (e.has("get_norm_query")) {
      cmp.array("get_norm_query", e.get("get_norm_query"), Tensors.toDoubles(d.getNorm(q)));
    }
    if (e.has("is_inverted") && e.get("is_inverted").asBoolean() != d.isInverted()) {
      throw new Mismatch("is_inverted: expected " + e.get("is_inverted") + ", got " + d.isInverted());
    }
  }

  // ------------------------------------------------------------------ reducer

  private void reducer(JsonNode c, JsonNode e, ScalarType dtype, Compare cmp) {
    JsonNode in = c.get("inputs");
    BaseReducer red = (BaseReducer) build(c);
    Tensor emb = floats(in.get("embeddings"), dtype, true);
    Tensor labels = longs(in.get("labels"));
    LossDict dict = new LossDict();
    Map<String, Tensor> lossTensors = new java.util.LinkedHashMap<>();
    Iterator<Map.Entry<String, JsonNode>> it = in.get("loss_dict").fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> en = it.next();
      JsonNode li = en.getValue();
      ReductionType type = ReductionType.fromPml(li.get("reduction_type").asText());
      JsonNode l = li.get("losses");
      if (l == null || l.isNull()) {
        dict.put(en.getKey(), LossInfo.zero());
        continue;
      }
      Tensor losses = l.isArray() ? floats(l, dtype, true)
          : Tensors.of(new double[] {Float.parseFloat(l.asText())}, dtype, new long[0]).requires_grad_(true);
      lossTensors.put(en.getKey(), losses);
      Tensor[] idx = null;
      JsonNode ji = li.get("indices");
      if (ji != null && !ji.isNull()) {
        if (type == ReductionType.ELEMENT) {
          idx = new Tensor[] {longs(ji)};
        } else {
          idx = new Tensor[ji.size()];
          for (int i = 0; i < idx.length; i++) {
            idx[i] = longs(ji.get(i));
          }
        }
      }
      Double divisor = li.has("divisor") && !li.get("divisor").isNull() ? li.get("divisor").asDouble() : null;
      dict.put(en.getKey(), new LossInfo(losses, idx, type, divisor));
    }
    if (red instanceof DoNothingReducer dn) {
      LossDict out = dn.forwardDict(dict, emb, labels);
      Iterator<Map.Entry<String, JsonNode>> eo = e.get("output").fields();
      while (eo.hasNext()) {
        Map.Entry<String, JsonNode> en = eo.next();
        LossInfo got = out.get(en.getKey());
        if (got == null) {
          throw new Mismatch("output: missing entry " + en.getKey());
        }
        double[] gotLosses = got.isZero() ? new double[] {0} : Tensors.toDoubles(got.losses());
        cmp.array("output." + en.getKey() + ".losses", en.getValue().get("losses"), gotLosses);
        if (!en.getValue().get("reduction_type").asText().equals(got.reductionType().pmlName())) {
          throw new Mismatch("output." + en.getKey() + ".reduction_type differs");
        }
      }
      return;
    }
    Tensor value = red.forward(dict, emb, labels);
    cmp.scalar("value", e.get("value"), value.item_double());
    if (value.requires_grad()) {
      value.backward();
    }
    JsonNode gl = e.get("grad_losses");
    if (gl != null && !gl.isNull()) {
      Iterator<Map.Entry<String, JsonNode>> gi = gl.fields();
      while (gi.hasNext()) {
        Map.Entry<String, JsonNode> en = gi.next();
        if (en.getValue().isNull()) {
          continue;
        }
        Tensor lt = lossTensors.get(en.getKey());
        double[] g = lt == null || !lt.grad().defined() ? zerosLike(en.getValue()) : Tensors.toDoubles(lt.grad());
        cmp.array("grad_losses." + en.getKey(), en.getValue(), g);
      }
    }
    JsonNode ge = e.get("grad_embeddings");
    if (ge != null && !ge.isNull()) {
      double[] g = emb.grad().defined() ? Tensors.toDoubles(emb.grad()) : zerosLike(ge);
      cmp.array("grad_embeddings", ge, g);
    }
  }

  private static double[] zerosLike(JsonNode n) {
    return new double[Compare.flat(n).length];
  }

  // ------------------------------------------------------------------ regularizer

  private void regularizer(JsonNode c, JsonNode e, ScalarType dtype, Compare cmp) {
    BaseRegularizer reg = (BaseRegularizer) build(c);
    Tensor emb = floats(c.get("inputs").get("embeddings"), dtype, true);
    Tensor loss = reg.forward(emb);
    checkLossAndGrads(e, cmp, loss, emb, null, null, null);
  }

  // ------------------------------------------------------------------ loss

  private void loss(JsonNode c, JsonNode e, ScalarType dtype, Compare cmp) {
    Object built = build(c);
    MetricLoss loss = built instanceof MetricLoss ml ? ml : null;
    applyState(c, built, dtype);
    JsonNode in = c.get("inputs");
    boolean randomized = c.path("randomized").asBoolean(false);
    if (in.has("calls")) {
      JsonNode calls = in.get("calls");
      for (int i = 0; i < calls.size(); i++) {
        JsonNode ci = calls.get(i);
        callLoss(loss, built, ci, callExpectation(e, i, dtype), dtype, cmp, "calls[" + i + "].", randomized);
      }
      return;
    }
    callLoss(loss, built, in, e, dtype, cmp, "", randomized);
  }

  private void callLoss(MetricLoss loss, Object built, JsonNode in, JsonNode e, ScalarType dtype, Compare cmp,
      String prefix, boolean randomizedCase) {
    Tensor emb = floats(in.get("embeddings"), dtype, true);
    Tensor labels = longs(in.get("labels"));
    Tensor ref = floats(in.get("ref_emb"), dtype, true);
    Tensor refLabels = longs(in.get("ref_labels"));
    Tensor out;
    if (in.has("meta_classes")) {
      out = ((MetaClassLoss) built).forwardMetaClasses(emb, longs(in.get("meta_classes")));
    } else {
      out = loss.forward(emb, labels, tuple(in.get("indices_tuple")), ref, refLabels);
    }
    boolean exact = true;
    try {
      checkLossAndGrads(e, cmp, out, emb, ref, loss, prefix);
    } catch (Mismatch m) {
      exact = false;
      if (!randomizedCase) {
        throw m;
      }
    }
    if (!exact) {
      // Random triplet sampling: the exact draw is PyTorch-generator specific; check invariants instead.
      double v = out.item_double();
      if (!(Double.isFinite(v) && v >= 0)) {
        throw new Mismatch(prefix + "loss: a randomized triplet loss must be finite and >= 0, got " + v);
      }
    }
    if (e.has("state_after") && built instanceof StatefulLoss sl) {
      compareState(prefix + "state_after", e.get("state_after"), sl.stateSnapshot(), cmp);
    }
    if (e.has("get_outliers") && !e.get("get_outliers").isNull()) {
      if (!(built instanceof OutlierDetector od)) {
        throw new Mismatch("get_outliers is not implemented by " + built.getClass().getSimpleName());
      }
      JsonNode go = e.get("get_outliers");
      Tensor[] res = od.getOutliers(emb.detach(), labels, go.path("threshold").asDouble(75));
      compareOutliers(go, res, cmp);
    }
  }

  /**
   * Compares get_outliers' two outputs: the flattened outlier indices (as sorted multisets, the cases' order) and the
   * dominant centers. The cases write {@code dominant_centers} as {@code {"<label>": [embedding_size values]}}, only
   * for the labels present in the batch (PML leaves the other columns uninitialized); {@code res[1]} is PML's
   * {@code [embedding_size, num_classes]} matrix, so each listed label is compared with its column. A full nested
   * array is compared as a whole.
   */
  private static void compareOutliers(JsonNode go, Tensor[] res, Compare cmp) {
    if (go.has("outliers")) {
      // PML lists the outliers class by class; the cases store them sorted, so compare them as sorted multisets.
      double[] expected = Compare.flat(go.get("outliers"));
      double[] got = Tensors.toDoubles(res[0].flatten(0, -1).to(ScalarType.Double));
      Arrays.sort(expected);
      Arrays.sort(got);
      ArrayNode sorted = JsonNodeFactory.instance.arrayNode();
      for (double v : expected) {
        sorted.add(v);
      }
      cmp.array("get_outliers.outliers (sorted)", sorted, got);
    }
    if (!go.has("dominant_centers") || go.get("dominant_centers").isNull()) {
      return;
    }
    JsonNode dc = go.get("dominant_centers");
    if (res.length < 2 || res[1] == null) {
      throw new Mismatch("get_outliers.dominant_centers: expected, but none returned");
    }
    if (dc.isArray()) {
      cmp.array("get_outliers.dominant_centers", dc, Tensors.toDoubles(res[1]));
      return;
    }
    double[][] got = Tensors.toDoubles2d(res[1]);
    Iterator<Map.Entry<String, JsonNode>> it = dc.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> en = it.next();
      int label = Integer.parseInt(en.getKey());
      if (got.length == 0 || label < 0 || label >= got[0].length) {
        throw new Mismatch("get_outliers.dominant_centers: no column for label " + label + " in a "
            + Tensors.shapeString(res[1]) + " result");
      }
      double[] column = new double[got.length];
      for (int i = 0; i < got.length; i++) {
        column[i] = got[i][label];
      }
      cmp.array("get_outliers.dominant_centers[" + label + "]", en.getValue(), column);
    }
  }

  static void checkLossAndGrads(JsonNode e, Compare cmp, Tensor loss, Tensor emb, Tensor ref, MetricLoss ml,
      String prefix) {
    String p = prefix == null ? "" : prefix;
    cmp.scalar(p + "loss", e.get("loss"), loss.item_double());
    boolean expectGrad = !e.has("loss_requires_grad") || e.get("loss_requires_grad").asBoolean();
    if (e.has("backward_error")) {
      return;
    }
    if (loss.requires_grad()) {
      loss.backward();
    } else if (expectGrad) {
      throw new Mismatch(p + "loss_requires_grad: expected true, got false");
    }
    JsonNode ge = e.get("grad_embeddings");
    if (ge != null && !ge.isNull()) {
      double[] g = emb.grad().defined() ? Tensors.toDoubles(emb.grad()) : zerosLike(ge);
      cmp.array(p + "grad_embeddings", ge, g);
    }
    JsonNode gr = e.get("grad_ref_emb");
    if (gr != null && !gr.isNull() && ref != null) {
      double[] g = ref.grad().defined() ? Tensors.toDoubles(ref.grad()) : zerosLike(gr);
      cmp.array(p + "grad_ref_emb", gr, g);
    }
    JsonNode gp = e.get("grad_params");
    if (gp != null && !gp.isNull() && ml != null) {
      Iterator<Map.Entry<String, JsonNode>> it = gp.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> en = it.next();
        Tensor param = ml.parameters().get(en.getKey());
        if (param == null) {
          throw new Mismatch(p + "grad_params: no parameter '" + en.getKey() + "' (have " + ml.parameters().keySet()
              + ")");
        }
        if (en.getValue().isNull()) {
          if (param.grad().defined() && param.grad().abs().max().item_double() != 0) {
            throw new Mismatch(p + "grad_params." + en.getKey() + ": expected no gradient, got one");
          }
          continue;
        }
        double[] g = param.grad().defined() ? Tensors.toDoubles(param.grad()) : zerosLike(en.getValue());
        cmp.array(p + "grad_params." + en.getKey(), en.getValue(), g);
      }
    }
  }

  static void applyState(JsonNode c, Object built, ScalarType dtype) {
    JsonNode state = c.get("state");
    if (!(built instanceof MetricLoss ml)) {
      return;
    }
    ml.toParameters(dtype, null);
    if (state == null || state.isNull() || state.isEmpty()) {
      return;
    }
    Iterator<Map.Entry<String, JsonNode>> it = state.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> en = it.next();
      JsonNode v = en.getValue();
      Tensor t = v.isArray() ? floats(v, dtype, false)
          : Tensors.of(new double[] {Float.parseFloat(v.asText())}, dtype, new long[0]);
      Tensor param = ml.parameters().get(en.getKey());
      if (param != null && param.dim() != t.dim() && param.numel() == t.numel()) {
        t = t.reshape(Tensors.shape(param));
      }
      ml.setParameter(en.getKey(), t);
    }
  }

  static void compareState(String what, JsonNode expected, Map<String, Object> actual, Compare cmp) {
    Iterator<Map.Entry<String, JsonNode>> it = expected.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> en = it.next();
      Object a = actual.get(en.getKey());
      String w = what + "." + en.getKey();
      if (a == null) {
        throw new Mismatch(w + ": not exposed by the implementation");
      }
      JsonNode ev = en.getValue();
      if (a instanceof Tensor t) {
        cmp.array(w, ev, Tensors.toDoubles(t));
      } else if (a instanceof Boolean b) {
        if (ev.asBoolean() != b) {
          throw new Mismatch(w + ": expected " + ev + ", got " + b);
        }
      } else if (a instanceof Number n) {
        cmp.scalar(w, ev, n.doubleValue());
      } else {
        throw new Mismatch(w + ": cannot compare " + a.getClass());
      }
    }
  }

  static JsonNode callExpectation(JsonNode e, int i, ScalarType dtype) {
    JsonNode ei = e.get("calls").get(i);
    return dtype == ScalarType.Float && ei.has("float32") ? ei.get("float32") : ei;
  }

  // ------------------------------------------------------------------ cross batch memory

  private void crossBatchMemory(JsonNode c, JsonNode e, ScalarType dtype, Compare cmp) {
    CrossBatchMemory cbm = (CrossBatchMemory) build(c);
    applyState(c, cbm, dtype);
    JsonNode calls = c.get("inputs").get("calls");
    for (int i = 0; i < calls.size(); i++) {
      JsonNode ci = calls.get(i);
      JsonNode ei = callExpectation(e, i, dtype);
      Tensor emb = floats(ci.get("embeddings"), dtype, true);
      Tensor labels = longs(ci.get("labels"));
      Tensor mask = bools(ci.get("enqueue_mask"));
      Tensor loss = cbm.forward(emb, labels, tuple(ci.get("indices_tuple")), mask);
      String prefix = "calls[" + i + "].";
      checkLossAndGrads(ei, cmp, loss, emb, null, cbm, prefix);
      if (ei.has("state_after")) {
        compareState(prefix + "state_after", ei.get("state_after"), cbm.stateSnapshot(), cmp);
      }
    }
  }

  // ------------------------------------------------------------------ miner

  private void miner(JsonNode c, JsonNode e, ScalarType dtype, JsonNode e64) {
    BaseMiner miner = (BaseMiner) build(c);
    JsonNode in = c.get("inputs");
    Tensor emb = floats(in.get("embeddings"), dtype, false);
    Tensor labels = longs(in.get("labels"));
    Tensor ref = floats(in.get("ref_emb"), dtype, false);
    Tensor refLabels = longs(in.get("ref_labels"));
    IndicesTuple out = miner.forward(emb, labels, ref, refLabels);
    JsonNode exp = e.has("same_as_float64") ? e64 : e;
    String type = e64.get("output_type").asText();
    if (type.equals("pairs") != out.isPairs()) {
      throw new Mismatch("output_type: expected " + type + ", got " + (out.isPairs() ? "pairs" : "triplets"));
    }
    if (c.path("randomized").asBoolean(false)) {
      MinerInvariants.check(miner, exp, e64, emb, labels, ref, refLabels, out);
      return;
    }
    double[][] mat = Tensors.toDoubles2d(miner.distance().forward(emb, ref));
    Compare cmp = tolerance(c, dtype);
    if (out.isPairs()) {
      compareTuples("pos_pairs", exp.get("pos_pairs"), mat, cmp, out.get(0), out.get(1));
      compareTuples("neg_pairs", exp.get("neg_pairs"), mat, cmp, out.get(2), out.get(3));
    } else {
      compareTuples("triplets", exp.get("triplets"), mat, cmp, out.get(0), out.get(1), out.get(2));
    }
  }

  /**
   * Compares multisets of mined tuples. Where they differ, the differing tuples must be ties: matched one to one
   * (sorted by value) with equal distance-matrix values {@code mat[a][x]} within tolerance. A selection cut-off between
   * two pairs whose distances are equal up to rounding picks either (seen in float32, where LibTorch 2.10 and PyTorch
   * 1.13 round some entries 1 ulp apart); any other difference is a mismatch.
   */
  static void compareTuples(String what, JsonNode expected, double[][] mat, Compare cmp, Tensor... cols) {
    long[][] got = rows(cols);
    long[][] exp = parseTuples(expected);
    try {
      compareExactly(what, exp, got);
    } catch (Mismatch exact) {
      if (mat == null || got.length != exp.length) {
        throw exact;
      }
      java.util.List<long[]> onlyExp = new java.util.ArrayList<>();
      java.util.List<long[]> onlyGot = new java.util.ArrayList<>();
      multisetDifference(exp, got, onlyExp, onlyGot);
      Comparator<long[]> byValue = Comparator.comparingDouble((long[] t) -> mat[(int) t[0]][(int) t[1]])
          .thenComparing(Arrays::compare);
      onlyExp.sort(byValue);
      onlyGot.sort(byValue);
      for (int i = 0; i < onlyExp.size(); i++) {
        long[] e = onlyExp.get(i);
        long[] g = onlyGot.get(i);
        for (int j = 1; j < e.length; j++) {
          if (!cmp.close(mat[(int) e[0]][(int) e[j]], mat[(int) g[0]][(int) g[j]])) {
            throw exact;
          }
        }
      }
    }
  }

  private static long[][] parseTuples(JsonNode expected) {
    long[][] exp = new long[expected.size()][];
    for (int i = 0; i < exp.length; i++) {
      JsonNode r = expected.get(i);
      exp[i] = new long[r.size()];
      for (int j = 0; j < r.size(); j++) {
        exp[i][j] = r.get(j).asLong();
      }
    }
    return exp;
  }

  private static void multisetDifference(long[][] exp, long[][] got, java.util.List<long[]> onlyExp,
      java.util.List<long[]> onlyGot) {
    java.util.Map<java.util.List<Long>, Integer> counts = new java.util.HashMap<>();
    for (long[] t : got) {
      counts.merge(Arrays.stream(t).boxed().toList(), 1, Integer::sum);
    }
    for (long[] t : exp) {
      java.util.List<Long> k = Arrays.stream(t).boxed().toList();
      Integer n = counts.get(k);
      if (n != null && n > 0) {
        counts.put(k, n - 1);
      } else {
        onlyExp.add(t);
      }
    }
    counts.forEach((k, n) -> {
      for (int i = 0; i < n; i++) {
        onlyGot.add(k.stream().mapToLong(Long::longValue).toArray());
      }
    });
  }

  private static void compareExactly(String what, long[][] exp, long[][] got) {
    Comparator<long[]> lex = Arrays::compare;
    Arrays.sort(got, lex);
    Arrays.sort(exp, lex);
    if (got.length != exp.length) {
      throw new Mismatch(what + ": expected " + exp.length + " tuples, got " + got.length);
    }
    for (int i = 0; i < got.length; i++) {
      if (!Arrays.equals(got[i], exp[i])) {
        throw new Mismatch(what + "[" + i + "] (sorted): expected " + Arrays.toString(exp[i]) + ", got "
            + Arrays.toString(got[i]));
      }
    }
  }

  static long[][] rows(Tensor... cols) {
    long[][] c = new long[cols.length][];
    for (int i = 0; i < cols.length; i++) {
      c[i] = Tensors.toLongs(cols[i]);
    }
    int n = c[0].length;
    long[][] out = new long[n][cols.length];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < cols.length; j++) {
        out[i][j] = c[j][i];
      }
    }
    return out;
  }
}
