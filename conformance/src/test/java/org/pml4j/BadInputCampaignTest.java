package org.pml4j;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.pml4j.distances.BaseDistance;
import org.pml4j.losses.MetricLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.regularizers.BaseRegularizer;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * A small bad-input campaign: every loss (and a CrossBatchMemory), miner, distance and regularizer (built from its
 * first golden case) in float32 and float64, fed bad embeddings (empty, one row, 1-D, 3-D, int64, bool, float16,
 * zero width, null), bad
 * labels (missing, short, negative, huge, float, bool, 2-D), bad tuples (out of range, negative, ragged, float) and
 * bad references (other dtype, float16, without labels, empty, other width). Every call either computes or throws an
 * {@link IllegalArgumentException}/{@link IllegalStateException} with a message; anything else (an error from inside
 * LibTorch, a NullPointerException) is listed in the failure.
 */
class BadInputCampaignTest {
  static Map<String, JsonNode> specs(String kind) throws Exception {
    ObjectMapper json = new ObjectMapper();
    Path dir = Paths.get(BadInputCampaignTest.class.getResource("/conformance/cases/manifest.json").toURI())
        .getParent().resolve(kind);
    Map<String, JsonNode> specs = new TreeMap<>();
    try (Stream<Path> s = Files.list(dir)) {
      for (Path f : s.sorted().toList()) {
        JsonNode c = json.readTree(f.toFile());
        String cls = c.get("class").asText();
        if (!specs.containsKey(cls)) {
          ObjectNode spec = json.createObjectNode();
          spec.put("class", cls);
          spec.set("params", c.get("params"));
          specs.put(cls, spec);
        }
      }
    }
    return specs;
  }

  private final java.util.List<String> bad = new java.util.ArrayList<>();
  private int calls;

  private void run(String what, Runnable r) {
    calls++;
    try (Scope s = Scope.open()) {
      r.run();
    } catch (IllegalArgumentException | IllegalStateException e) {
      if (e.getMessage() == null || e.getMessage().isBlank()) {
        bad.add(what + " -> " + e.getClass().getSimpleName() + " without a message");
      }
    } catch (Throwable t) {
      bad.add(what + " -> " + t.getClass().getName() + ": " + String.valueOf(t.getMessage()).split("\n")[0]);
    }
  }

  @Test
  void everyBadInputIsAnIllegalArgumentOrStateException() throws Exception {
    torch.manual_seed(0);
    for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.Double}) {
      ScalarType ot = dt == ScalarType.Float ? ScalarType.Double : ScalarType.Float;
      Map<String, Supplier<Tensor>> embs = new LinkedHashMap<>();
      embs.put("ok", () -> torch.randn(6, 4).to(dt).requires_grad_(true));
      embs.put("empty", () -> torch.randn(0, 4).to(dt).requires_grad_(true));
      embs.put("one", () -> torch.randn(1, 4).to(dt).requires_grad_(true));
      embs.put("1d", () -> torch.randn(6).to(dt));
      embs.put("3d", () -> torch.randn(6, 4, 1).to(dt));
      embs.put("int", () -> torch.randn(6, 4).to(ScalarType.Long));
      embs.put("bool", () -> torch.randn(6, 4).gt(torch.zeros(1)));
      embs.put("half", () -> torch.randn(6, 4).to(ScalarType.Half));
      embs.put("zero-width", () -> torch.randn(6, 0).to(dt));
      embs.put("null", () -> null);
      Map<String, Supplier<Tensor>> labs = new LinkedHashMap<>();
      labs.put("ok", () -> Tensors.longs(0, 0, 1, 1, 2, 2));
      labs.put("null", () -> null);
      labs.put("short", () -> Tensors.longs(0, 1));
      labs.put("neg", () -> Tensors.longs(-1, 0, 1, 1, 2, 2));
      labs.put("huge", () -> Tensors.longs(0, 0, 1, 1, 2, Long.MAX_VALUE));
      labs.put("float", () -> torch.zeros(6));
      labs.put("bool", () -> torch.zeros(6).gt(torch.zeros(1)));
      labs.put("2d", () -> Tensors.longs(0, 0, 1, 1, 2, 2).view(2, 3));
      Map<String, Supplier<IndicesTuple>> tups = new LinkedHashMap<>();
      tups.put("none", () -> null);
      tups.put("trip-oob", () -> IndicesTuple.of(new long[] {0}, new long[] {9}, new long[] {2}));
      tups.put("trip-neg", () -> IndicesTuple.of(new long[] {0}, new long[] {-1}, new long[] {2}));
      tups.put("pairs-empty",
          () -> IndicesTuple.pairs(Tensors.longs(), Tensors.longs(), Tensors.longs(), Tensors.longs()));
      tups.put("ragged",
          () -> IndicesTuple.pairs(Tensors.longs(0, 1), Tensors.longs(1), Tensors.longs(0), Tensors.longs(2)));
      tups.put("float-idx", () -> IndicesTuple.pairs(torch.zeros(1), torch.ones(1), torch.zeros(1), torch.ones(1)));
      Map<String, Supplier<Tensor[]>> refs = new LinkedHashMap<>();
      refs.put("none", () -> new Tensor[] {null, null});
      refs.put("ok", () -> new Tensor[] {torch.randn(5, 4).to(dt), Tensors.longs(0, 1, 2, 0, 1)});
      refs.put("other-dtype", () -> new Tensor[] {torch.randn(5, 4).to(ot), Tensors.longs(0, 1, 2, 0, 1)});
      refs.put("half", () -> new Tensor[] {torch.randn(5, 4).to(ScalarType.Half), Tensors.longs(0, 1, 2, 0, 1)});
      refs.put("no-labels", () -> new Tensor[] {torch.randn(5, 4).to(dt), null});
      refs.put("empty", () -> new Tensor[] {torch.randn(0, 4).to(dt), Tensors.longs()});
      refs.put("width", () -> new Tensor[] {torch.randn(5, 3).to(dt), Tensors.longs(0, 1, 2, 0, 1)});
      Map<String, JsonNode> lossSpecs = specs("loss");
      lossSpecs.put("CrossBatchMemory", new ObjectMapper().readTree("{\"class\": \"CrossBatchMemory\", \"params\": "
          + "{\"loss\": \"ContrastiveLoss\", \"embedding_size\": 4, \"memory_size\": 20, \"miner\": \"HDCMiner\"}}"));
      for (Map.Entry<String, JsonNode> sp : lossSpecs.entrySet()) {
        for (var e : embs.entrySet()) for (var l : labs.entrySet()) for (var t : tups.entrySet())
            for (var r : refs.entrySet()) {
          // one thing wrong at a time (labels "null" and reference "none" are the defaults of a valid call too)
          int odd = (e.getKey().equals("ok") ? 0 : 1) + (l.getKey().equals("ok") ? 0 : 1)
              + (t.getKey().equals("none") ? 0 : 1) + (r.getKey().equals("none") ? 0 : 1);
          if (odd > 1 && !(odd == 2 && l.getKey().equals("null"))) {
            continue;
          }
          String what = sp.getKey() + " " + dt + " emb=" + e.getKey() + " lab=" + l.getKey() + " tup=" + t.getKey()
              + " ref=" + r.getKey();
          run(what, () -> {
            MetricLoss loss = Registry.build(sp.getValue(), MetricLoss.class);
            Tensor[] rr = r.getValue().get();
            Tensor v = loss.forward(e.getValue().get(), l.getValue().get(), t.getValue().get(), rr[0], rr[1]);
            if (v.requires_grad()) v.backward();
          });
        }
      }
      for (Map.Entry<String, JsonNode> sp : specs("miner").entrySet()) {
        for (var e : embs.entrySet()) for (var l : labs.entrySet()) for (var r : refs.entrySet()) {
          int odd = (e.getKey().equals("ok") ? 0 : 1) + (l.getKey().equals("ok") ? 0 : 1)
              + (r.getKey().equals("none") ? 0 : 1);
          if (odd > 1) {
            continue;
          }
          String what = sp.getKey() + " " + dt + " emb=" + e.getKey() + " lab=" + l.getKey() + " ref=" + r.getKey();
          run(what, () -> {
            BaseMiner m = Registry.build(sp.getValue(), BaseMiner.class);
            Tensor[] rr = r.getValue().get();
            m.forward(e.getValue().get(), l.getValue().get(), rr[0], rr[1]);
          });
        }
      }
      for (Map.Entry<String, JsonNode> sp : specs("distance").entrySet()) {
        for (var e : embs.entrySet()) for (var r : refs.entrySet()) {
          run(sp.getKey() + " " + dt + " emb=" + e.getKey() + " ref=" + r.getKey(), () -> {
            Object d = Registry.build(sp.getValue());
            if (d instanceof BaseDistance bd) bd.forward(e.getValue().get(), r.getValue().get()[0]);
          });
        }
      }
      for (Map.Entry<String, JsonNode> sp : specs("regularizer").entrySet()) {
        for (var e : embs.entrySet()) {
          run(sp.getKey() + " " + dt + " emb=" + e.getKey(), () -> {
            Registry.build(sp.getValue(), BaseRegularizer.class).forward(e.getValue().get());
          });
        }
      }
    }
    org.junit.jupiter.api.Assertions.assertTrue(calls > 2000, "calls: " + calls);
    org.junit.jupiter.api.Assertions.assertEquals(java.util.List.of(), bad, bad.size() + " of " + calls + " calls");
  }
}
