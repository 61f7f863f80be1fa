package org.pml4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.BatchedDistance;
import org.pml4j.losses.MetricLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.regularizers.BaseRegularizer;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * Every loss, miner, distance and regularizer (each built from the parameters of its first golden case), in float32
 * and float64: float16/bfloat16 input, a reference set of the other dtype and null arguments are an
 * {@link IllegalArgumentException} whose message names the argument, never an error from inside LibTorch.
 */
class ApiBadInputTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
    torch.manual_seed(5);
  }

  @AfterEach
  void close() {
    scope.close();
  }

  /** class name → spec built from the first golden case of that class, per kind. */
  private static Map<String, JsonNode> specs(String kind) {
    try {
      Path dir = Paths.get(ApiBadInputTest.class.getResource("/conformance/cases/manifest.json").toURI())
          .getParent().resolve(kind);
      Map<String, JsonNode> out = new TreeMap<>();
      List<Path> files;
      try (Stream<Path> s = Files.list(dir)) {
        files = s.sorted().toList();
      }
      for (Path f : files) {
        JsonNode c = JSON.readTree(f.toFile());
        String cls = c.get("class").asText();
        if (!out.containsKey(cls)) {
          ObjectNode spec = JSON.createObjectNode();
          spec.put("class", cls);
          spec.set("params", c.get("params"));
          out.put(cls, spec);
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Stream<Arguments> withDtypes(String kind) {
    List<Arguments> out = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : specs(kind).entrySet()) {
      for (ScalarType dt : new ScalarType[] {ScalarType.Float, ScalarType.Double}) {
        out.add(Arguments.of(e.getKey(), e.getValue(), dt));
      }
    }
    return out.stream();
  }

  static Stream<Arguments> losses() {
    return withDtypes("loss");
  }

  static Stream<Arguments> miners() {
    return withDtypes("miner");
  }

  static Stream<Arguments> distances() {
    return withDtypes("distance");
  }

  static Stream<Arguments> regularizers() {
    return withDtypes("regularizer");
  }

  private static final Tensor LABELS = Tensors.longs(0, 0, 1, 1, 2, 2, 0, 1, 2);

  /** 9 x 4 (a multiple of 3 rows for EmbeddingsAlreadyPackagedAsTriplets; 4 columns: what every case accepts). */
  private static Tensor emb(ScalarType dt) {
    return torch.randn(9, 4).to(dt);
  }

  private static ScalarType other(ScalarType dt) {
    return dt == ScalarType.Float ? ScalarType.Double : ScalarType.Float;
  }

  private static String message(Runnable r) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
    return e.getMessage();
  }

  private static void assertMessage(Runnable r, String... parts) {
    String m = message(r);
    for (String p : parts) {
      assertTrue(m.contains(p), "expected '" + p + "' in: " + m);
    }
  }

  // ------------------------------------------------------------------ losses

  @ParameterizedTest(name = "{0} {2}")
  @MethodSource("losses")
  void lossRejectsHalfPrecisionEmbeddings(String cls, JsonNode spec, ScalarType dt) {
    MetricLoss loss = Registry.build(spec, MetricLoss.class);
    // SelfSupervisedLoss takes no labels: its labels are arange(batch); its reference is required
    boolean selfSupervised = cls.equals("SelfSupervisedLoss");
    Tensor labels = selfSupervised ? null : LABELS;
    for (ScalarType half : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16}) {
      Tensor e = emb(dt).to(half);
      assertMessage(() -> loss.forward(e, labels, null, selfSupervised ? emb(dt) : null, null),
          "embeddings must be float32 or float64, got " + half);
      assertMessage(() -> loss.forward(emb(dt), labels, null, e, labels), "ref_emb");
    }
  }

  @ParameterizedTest(name = "{0} {2}")
  @MethodSource("losses")
  void lossRejectsReferenceOfOtherDtypeOrNullEmbeddings(String cls, JsonNode spec, ScalarType dt) {
    MetricLoss loss = Registry.build(spec, MetricLoss.class);
    Tensor labels = cls.equals("SelfSupervisedLoss") ? null : LABELS;
    // every loss rejects it: by dtype, or because it takes no ref_emb at all (PML: "not supported")
    assertMessage(() -> loss.forward(emb(dt), labels, null, emb(other(dt)), labels), "ref_emb");
    if (labels == null) {
      assertMessage(() -> loss.forward(null, null, null, emb(dt), null), "SelfSupervisedLoss needs embeddings");
    } else {
      assertMessage(() -> loss.forward(null, labels, null, null, null), "embeddings must not be null");
    }
  }

  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.EnumSource(value = ScalarType.class, names = {"Float", "Double"})
  void crossBatchMemoryRejectsHalfPrecisionBeforeTouchingItsQueue(ScalarType dt) {
    MetricLoss cbm = Registry.build("{\"class\": \"CrossBatchMemory\", \"params\": {\"loss\": "
        + "\"ContrastiveLoss\", \"embedding_size\": 4, \"memory_size\": 18, \"miner\": \"HDCMiner\"}}",
        MetricLoss.class);
    for (ScalarType half : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16}) {
      assertMessage(() -> cbm.forward(emb(dt).to(half), LABELS, null, null, null),
          "embeddings must be float32 or float64, got " + half);
    }
    assertEquals(0, ((org.pml4j.losses.CrossBatchMemory) cbm).queueIdx());
    assertTrue(Double.isFinite(cbm.forward(emb(dt), LABELS, null, null, null).item_double()));
  }

  // ------------------------------------------------------------------ miners

  @ParameterizedTest(name = "{0} {2}")
  @MethodSource("miners")
  void minerRejectsHalfPrecisionAndOtherDtypeReference(String cls, JsonNode spec, ScalarType dt) {
    BaseMiner miner = Registry.build(spec, BaseMiner.class);
    for (ScalarType half : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16}) {
      assertMessage(() -> miner.forward(emb(dt).to(half), LABELS), "embeddings must be float32 or float64, got "
          + half);
      assertMessage(() -> miner.forward(emb(dt), LABELS, emb(dt).to(half), LABELS),
          "ref_emb must be float32 or float64, got " + half);
    }
    assertMessage(() -> miner.forward(emb(dt), LABELS, emb(other(dt)), LABELS),
        "embeddings and ref_emb differ in dtype: " + dt + " vs " + other(dt));
    assertMessage(() -> miner.forward(null, LABELS), "embeddings must not be null");
  }

  // ------------------------------------------------------------------ distances

  @ParameterizedTest(name = "{0} {2}")
  @MethodSource("distances")
  void distanceRejectsHalfPrecisionOtherDtypeAndNull(String cls, JsonNode spec, ScalarType dt) {
    Object built = Registry.build(spec);
    if (built instanceof BatchedDistance b) {
      BatchedDistance.IterFn ignore = (mat, s, e) -> { };
      assertMessage(() -> b.forward(null, null, ignore), "query_emb must not be null");
      assertMessage(() -> b.forward(emb(dt).to(ScalarType.Half), null, ignore),
          "query_emb must be float32 or float64, got Half");
      assertMessage(() -> b.forward(emb(dt), emb(other(dt)), ignore), "query_emb and ref_emb differ in dtype");
      return;
    }
    BaseDistance d = (BaseDistance) built;
    for (ScalarType half : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16}) {
      assertMessage(() -> d.forward(emb(dt).to(half)), "query_emb must be float32 or float64, got " + half);
      assertMessage(() -> d.forward(emb(dt), emb(dt).to(half)), "ref_emb must be float32 or float64, got " + half);
    }
    assertMessage(() -> d.forward(emb(dt), emb(other(dt))),
        "query_emb and ref_emb differ in dtype: " + dt + " vs " + other(dt));
    assertMessage(() -> d.forward(null), "query_emb must not be null");
    assertMessage(() -> d.forward(null, emb(dt)), "query_emb must not be null");
    assertMessage(() -> d.forward(emb(dt).to(ScalarType.Long)), "query_emb must be float32 or float64, got Long");
    assertMessage(() -> d.pairwiseDistance(null, emb(dt)), "query_emb must not be null");
    assertMessage(() -> d.pairwiseDistance(emb(dt), emb(other(dt))), "query_emb and ref_emb differ in dtype");
    assertMessage(() -> d.pairwiseDistance(emb(dt).to(ScalarType.Half), emb(dt).to(ScalarType.Half)),
        "query_emb must be float32 or float64, got Half");
    assertMessage(() -> d.pairwiseDistance(emb(dt), emb(dt).narrow(0, 0, 3)), "of one shape");
    // the valid call still works and keeps the dtype
    Tensor mat = d.forward(emb(dt), emb(dt));
    assertEquals(dt, Tensors.dtype(mat));
    assertEquals(9, mat.size(0));
  }

  // ------------------------------------------------------------------ regularizers

  @ParameterizedTest(name = "{0} {2}")
  @MethodSource("regularizers")
  void regularizerRejectsHalfPrecisionIntegersAndNull(String cls, JsonNode spec, ScalarType dt) {
    BaseRegularizer r = Registry.build(spec, BaseRegularizer.class);
    for (ScalarType bad : new ScalarType[] {ScalarType.Half, ScalarType.BFloat16, ScalarType.Long, ScalarType.Int}) {
      assertMessage(() -> r.forward(emb(dt).to(bad)), cls + " input x must be float32 or float64, got " + bad);
    }
    assertMessage(() -> r.forward(null), cls + " input x must not be null");
    assertMessage(() -> r.forward(emb(dt).view(-1)), cls + " input x must be a 2D tensor");
  }
}
