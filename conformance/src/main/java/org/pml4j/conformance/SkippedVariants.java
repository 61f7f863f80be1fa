package org.pml4j.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.conformance.CaseRunner.Result;
import org.pml4j.conformance.CaseRunner.Status;
import org.pml4j.losses.MetricLoss;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * Rebuilds each input variant that PML rejects ({@code skipped_variants} in the manifest) and checks that pml4j
 * rejects it with an exception too. Constructor params come from a case of the same class, so required arguments
 * (num_classes, embedding_size, …) are present.
 */
final class SkippedVariants {
  private SkippedVariants() {}

  static Result check(JsonNode sv, JsonNode sampleCase) {
    String cls = sv.path("class").asText();
    String kind = sv.path("kind").asText();
    String variant = sv.path("variant").asText();
    String id = "skipped_variant " + cls + "/" + variant;
    try (Scope scope = Scope.open()) {
      ObjectNode spec = JsonNodeFactory.instance.objectNode();
      spec.put("class", cls);
      if (sampleCase != null) {
        spec.set("params", sampleCase.get("params"));
      }
      Object built = Registry.build(spec);
      int d = embeddingWidth(sampleCase);
      torch.manual_seed(0);
      Tensor emb = torch.randn(8, d).to(ScalarType.Double).requires_grad_(true);
      Tensor labels = Tensors.longs(0, 0, 1, 1, 2, 2, 0, 1);
      try {
        if (kind.equals("reducer")) {
          Tensor losses = torch.rand(4).to(ScalarType.Double);
          Tensor[] idx = {Tensors.longs(0, 1, 2, 3), Tensors.longs(1, 0, 3, 2), Tensors.longs(4, 5, 6, 7)};
          ((BaseReducer) built).forward(LossDict.of("loss", new LossInfo(losses, idx, ReductionType.TRIPLET)), emb,
              labels);
        } else {
          MetricLoss loss = (MetricLoss) built;
          loss.toParameters(ScalarType.Double, null);
          IndicesTuple pairs = IndicesTuple.of(new long[] {0, 2}, new long[] {1, 3}, new long[] {0, 2},
              new long[] {4, 5});
          IndicesTuple triplets = IndicesTuple.of(new long[] {0, 2}, new long[] {1, 3}, new long[] {4, 5});
          Tensor ref = torch.randn(6, d).to(ScalarType.Double);
          Tensor refLabels = Tensors.longs(0, 1, 2, 0, 1, 2);
          switch (variant) {
            case "ref" -> loss.forward(emb, labels, null, ref, refLabels);
            case "pairs_tuple" -> loss.forward(emb, labels, pairs, null, null);
            case "triplets_tuple" -> loss.forward(emb, labels, triplets, null, null);
            case "no_labels_pairs" -> loss.forward(emb, null, pairs, null, null);
            case "no_labels_triplets" -> loss.forward(emb, null, triplets, null, null);
            default -> {
              return new Result(id, kind, cls, Status.FAILED, "unknown skipped variant '" + variant + "'");
            }
          }
        }
      } catch (RuntimeException expected) {
        return new Result(id, kind, cls, Status.PASSED, expected.getMessage());
      }
      return new Result(id, kind, cls, Status.FAILED,
          "PML rejects this input (" + sv.path("error").asText() + ") but pml4j accepted it");
    } catch (RuntimeException e) {
      return new Result(id, kind, cls, Status.FAILED, "could not set up the check: " + e);
    }
  }

  private static int embeddingWidth(JsonNode c) {
    if (c == null) {
      return 4;
    }
    JsonNode in = c.path("inputs");
    JsonNode e = in.has("embeddings") ? in.get("embeddings") : in.path("calls").path(0).path("embeddings");
    return e.isArray() && e.size() > 0 ? e.get(0).size() : 4;
  }
}
