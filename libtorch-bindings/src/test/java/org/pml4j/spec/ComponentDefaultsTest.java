package org.pml4j.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.pml4j.accuracy.CustomKNN;
import org.pml4j.accuracy.KMeans;
import org.pml4j.distances.BatchedDistance;
import org.pml4j.distances.LpDistance;
import org.pml4j.losses.ArcFaceLoss;
import org.pml4j.losses.ContrastiveLoss;
import org.pml4j.losses.CosFaceLoss;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.losses.LargeMarginSoftmaxLoss;
import org.pml4j.losses.ManifoldLoss;
import org.pml4j.losses.MultipleLosses;
import org.pml4j.losses.NTXentLoss;
import org.pml4j.losses.NormalizedSoftmaxLoss;
import org.pml4j.losses.P2SGradLoss;
import org.pml4j.losses.ProxyAnchorLoss;
import org.pml4j.losses.ProxyNCALoss;
import org.pml4j.losses.RankedListLoss;
import org.pml4j.losses.SelfSupervisedLoss;
import org.pml4j.losses.SoftTripleLoss;
import org.pml4j.losses.SphereFaceLoss;
import org.pml4j.losses.SubCenterArcFaceLoss;
import org.pml4j.losses.TripletMarginLoss;
import org.pml4j.reducers.ClassWeightedReducer;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.MultipleReducers;
import org.pml4j.reducers.ThresholdReducer;
import org.pml4j.regularizers.SparseCentersRegularizer;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * Each PML default is stated once: for every registered loss, miner, reducer, regularizer, distance and accuracy
 * component, what the registry builds from a spec with no optional params is what the Java constructor without
 * optional arguments builds — field by field, nested components and learnable tensors included (both built after
 * the same {@code torch.manual_seed}). The defaults live in {@code DEFAULT_*} constants that both read; this test
 * catches a constructor or a {@code fromSpec} that states its own value again and drifts.
 */
class ComponentDefaultsTest {
  /** The registry packages whose components this test covers. */
  private static final List<String> PACKAGES = List.of("distances", "reducers", "regularizers", "losses", "miners",
      "accuracy");

  /**
   * Components whose PML constructor has required arguments: the spec's required params and the Java constructor
   * given the same values, every optional argument left out.
   */
  private static final Map<String, Required> REQUIRED = Map.ofEntries(
      required("ArcFaceLoss", "{\"num_classes\": 3, \"embedding_size\": 4}", () -> new ArcFaceLoss(3, 4)),
      required("CosFaceLoss", "{\"num_classes\": 3, \"embedding_size\": 4}", () -> new CosFaceLoss(3, 4)),
      required("LargeMarginSoftmaxLoss", "{\"num_classes\": 3, \"embedding_size\": 4}",
          () -> new LargeMarginSoftmaxLoss(3, 4)),
      required("SphereFaceLoss", "{\"num_classes\": 3, \"embedding_size\": 4}", () -> new SphereFaceLoss(3, 4)),
      required("SubCenterArcFaceLoss", "{\"num_classes\": 3, \"embedding_size\": 4}",
          () -> new SubCenterArcFaceLoss(3, 4)),
      required("NormalizedSoftmaxLoss", "{\"num_classes\": 3, \"embedding_size\": 4}",
          () -> new NormalizedSoftmaxLoss(3, 4)),
      required("ProxyAnchorLoss", "{\"num_classes\": 3, \"embedding_size\": 4}", () -> new ProxyAnchorLoss(3, 4)),
      required("ProxyNCALoss", "{\"num_classes\": 3, \"embedding_size\": 4}", () -> new ProxyNCALoss(3, 4)),
      required("SoftTripleLoss", "{\"num_classes\": 3, \"embedding_size\": 4}", () -> new SoftTripleLoss(3, 4)),
      required("P2SGradLoss", "{\"descriptors_dim\": 4, \"num_classes\": 3}", () -> new P2SGradLoss(4, 3)),
      required("ManifoldLoss", "{\"l\": 4}", () -> new ManifoldLoss(4)),
      required("RankedListLoss", "{\"margin\": 0.4, \"Tn\": 1}", () -> new RankedListLoss(0.4, 1)),
      required("CrossBatchMemory", "{\"loss\": \"ContrastiveLoss\", \"embedding_size\": 4}",
          () -> new CrossBatchMemory(new ContrastiveLoss(), 4)),
      required("SelfSupervisedLoss", "{\"loss\": \"NTXentLoss\"}", () -> new SelfSupervisedLoss(new NTXentLoss())),
      required("MultipleLosses", "{\"losses\": [\"ContrastiveLoss\", \"TripletMarginLoss\"]}",
          () -> new MultipleLosses(List.of(new ContrastiveLoss(), new TripletMarginLoss()))),
      required("ClassWeightedReducer", "{\"weights\": [1, 2]}", () -> new ClassWeightedReducer(new double[] {1, 2})),
      required("MultipleReducers", "{\"reducers\": {\"pos_loss\": \"MeanReducer\"}}",
          () -> new MultipleReducers(Map.of("pos_loss", new MeanReducer()))),
      required("ThresholdReducer", "{\"low\": 0.1}", () -> new ThresholdReducer(0.1, null)),
      required("SparseCentersRegularizer", "{\"num_classes\": 3, \"centers_per_class\": 2}",
          () -> new SparseCentersRegularizer(3, 2)),
      required("BatchedDistance", "{\"distance\": \"LpDistance\"}", () -> new BatchedDistance(new LpDistance(), null)),
      required("CustomKNN", "{\"distance\": \"LpDistance\"}", () -> new CustomKNN(new LpDistance())),
      // The one deliberate difference: KMeans() is seeded (KMeans.DEFAULT_SEED) so the default clustering is
      // deterministic, while a spec without random_state is unseeded, as scikit-learn's default.
      required("KMeans", "{\"random_state\": 0}", KMeans::new));

  private record Required(String params, Supplier<Object> construct) {}

  private static Map.Entry<String, Required> required(String cls, String params, Supplier<Object> construct) {
    return Map.entry(cls, new Required(params, construct));
  }

  private Scope scope;

  @BeforeEach
  void open() {
    scope = Scope.open();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  static Stream<String> components() {
    List<String> out = new ArrayList<>();
    Registry.knownClassesByPackage().forEach((pkg, names) -> {
      if (PACKAGES.contains(pkg)) {
        names.forEach(n -> out.add("org.pml4j." + pkg + "." + n));
      }
    });
    return out.stream();
  }

  @Test
  void theRegistryListsEveryPackage() {
    Map<String, List<String>> known = Registry.knownClassesByPackage();
    for (String pkg : PACKAGES) {
      assertTrue(known.containsKey(pkg) && known.get(pkg).size() >= 3, pkg + ": " + known.get(pkg));
    }
    assertTrue(components().count() >= 69, "components found: " + components().count());
  }

  @ParameterizedTest
  @MethodSource("components")
  void theSpecWithoutOptionalParamsBuildsTheDefaultConstructorsComponent(String className) throws Exception {
    Class<?> c = Class.forName(className);
    String name = c.getSimpleName();
    Required r = REQUIRED.get(name);
    Supplier<Object> construct;
    String params;
    if (r != null) {
      construct = r.construct();
      params = r.params();
    } else {
      Constructor<?> noArg;
      try {
        noArg = c.getConstructor();
      } catch (NoSuchMethodException e) {
        fail(name + " has no public no-argument constructor: add its required arguments to REQUIRED");
        return;
      }
      construct = () -> newInstance(noArg);
      params = "{}";
    }
    torch.manual_seed(7);
    Object fromConstructor = construct.get();
    torch.manual_seed(7);
    Object fromSpec = Registry.build("{\"class\": \"" + name + "\", \"params\": " + params + "}");
    assertEquals(c, fromSpec.getClass());
    assertSameState(name, fromConstructor, fromSpec, new IdentityHashMap<>());
  }

  /** The comparison can fail: two components that differ in one default are told apart, with the field's path. */
  @Test
  void theComparisonSeesOneDifferentDefault() {
    AssertionError e = null;
    try {
      assertSameState("TripletMarginLoss", new TripletMarginLoss(), new TripletMarginLoss(0.06),
          new IdentityHashMap<>());
    } catch (AssertionError x) {
      e = x;
    }
    assertNotNull(e, "0.05 and 0.06 margins compared equal");
    assertTrue(e.getMessage().contains("TripletMarginLoss.margin"), e.getMessage());
    torch.manual_seed(1);
    Object a = new ArcFaceLoss(3, 4);
    torch.manual_seed(2);
    Object b = new ArcFaceLoss(3, 4);
    AssertionError w = null;
    try {
      assertSameState("ArcFaceLoss", a, b, new IdentityHashMap<>());
    } catch (AssertionError x) {
      w = x;
    }
    assertNotNull(w, "weights drawn from different seeds compared equal");
    assertFalse(w.getMessage().isBlank());
  }

  private static Object newInstance(Constructor<?> c) {
    try {
      return c.newInstance();
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("new " + c.getDeclaringClass().getSimpleName() + "() failed: " + e.getCause(), e);
    }
  }

  /**
   * Deep comparison of two component graphs: numbers, strings, enums, lists, maps and arrays by value, tensors by
   * dtype, shape and values, pml4j objects field by field (static fields excepted), lambdas by class.
   */
  static void assertSameState(String path, Object a, Object b, IdentityHashMap<Object, Object> seen) {
    if (a == b) {
      return;
    }
    if (a == null || b == null) {
      fail(path + ": " + a + " vs " + b);
    }
    Class<?> c = a.getClass();
    if (c != b.getClass()) {
      fail(path + ": a " + c.getName() + " vs a " + b.getClass().getName());
    }
    if (a instanceof Double x) {
      if (Double.compare(x, (Double) b) != 0) {
        fail(path + ": " + a + " vs " + b);
      }
      return;
    }
    if (a instanceof Number || a instanceof String || a instanceof Boolean || a instanceof Character
        || a instanceof Enum<?>) {
      if (!a.equals(b)) {
        fail(path + ": " + a + " vs " + b);
      }
      return;
    }
    if (seen.put(a, b) != null) {
      return;
    }
    if (a instanceof Tensor ta) {
      Tensor tb = (Tensor) b;
      if (ta.defined() != tb.defined()) {
        fail(path + ": a defined tensor vs an undefined one");
      }
      if (ta.defined()) {
        assertEquals(Tensors.dtype(ta), Tensors.dtype(tb), path + ": dtype");
        assertEquals(Tensors.shapeString(ta), Tensors.shapeString(tb), path + ": shape");
        if (!torch.equal(ta, tb)) {
          fail(path + ": tensors of equal shape with different values");
        }
      }
      return;
    }
    if (c.isArray()) {
      int n = Array.getLength(a);
      assertEquals(n, Array.getLength(b), path + ": length");
      for (int i = 0; i < n; i++) {
        assertSameState(path + "[" + i + "]", Array.get(a, i), Array.get(b, i), seen);
      }
      return;
    }
    if (a instanceof List<?> la) {
      List<?> lb = (List<?>) b;
      assertEquals(la.size(), lb.size(), path + ": size");
      for (int i = 0; i < la.size(); i++) {
        assertSameState(path + "[" + i + "]", la.get(i), lb.get(i), seen);
      }
      return;
    }
    if (a instanceof Map<?, ?> ma) {
      Map<?, ?> mb = (Map<?, ?>) b;
      assertEquals(List.copyOf(ma.keySet()), List.copyOf(mb.keySet()), path + ": keys");
      for (Object k : ma.keySet()) {
        assertSameState(path + "[" + k + "]", ma.get(k), mb.get(k), seen);
      }
      return;
    }
    if (c.isSynthetic() || c.getName().contains("$$Lambda")) {
      return; // the same lambda expression: same class
    }
    if (!c.getName().startsWith("org.pml4j.")) {
      fail(path + ": cannot compare a " + c.getName() + "; teach ComponentDefaultsTest how");
    }
    for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
      for (Field f : k.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers())) {
          continue;
        }
        f.setAccessible(true);
        try {
          assertSameState(path + "." + f.getName(), f.get(a), f.get(b), seen);
        } catch (IllegalAccessException e) {
          throw new AssertionError(path + "." + f.getName() + ": not readable", e);
        }
      }
    }
  }
}
