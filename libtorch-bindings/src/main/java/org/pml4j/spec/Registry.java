package org.pml4j.spec;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Builds any pml4j component from a spec {@code {"class": "TripletMarginLoss", "params": {...}}} — the form of PML's
 * golden cases, CLI flags, config files and the Flink job's configuration.
 *
 * <p>A class is registered by living in one of the component packages with a
 * {@code public static T fromSpec(Params)} factory; there is no central list to edit. Unknown classes and parameters
 * are errors that list the valid ones.
 */
public final class Registry {
  /** Strict: text after the spec's JSON value ({@code {...} xyz}) is an error, not ignored. */
  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** Packages searched for component classes, in order. */
  static final List<String> PACKAGES = List.of(
      "org.pml4j.distances", "org.pml4j.reducers", "org.pml4j.regularizers", "org.pml4j.losses",
      "org.pml4j.miners", "org.pml4j.samplers", "org.pml4j.accuracy", "org.pml4j.nn", "org.pml4j.train");

  /** Known component names, for error messages (filled as classes are found, plus the list below). */
  private static final Map<String, Method> CACHE = new ConcurrentHashMap<>();

  private Registry() {}

  /**
   * Builds a component from spec JSON text.
   *
   * @throws SpecException (an {@link IllegalArgumentException}) when the text is not one JSON value (text after it
   *     included), or the spec cannot be built
   */
  public static Object build(String specJson) {
    return build(parse(specJson));
  }

  /**
   * Parses spec text strictly: exactly one JSON value, nothing but whitespace after it.
   *
   * @throws SpecException when {@code specJson} is null, empty or not exactly one JSON value
   */
  public static JsonNode parse(String specJson) {
    if (specJson == null) {
      throw new SpecException("spec must not be null");
    }
    try {
      JsonNode n = JSON.readTree(specJson);
      if (n == null || n.isMissingNode()) {
        throw new SpecException("spec is empty");
      }
      return n;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new SpecException(Messages.jsonError("spec", e), e);
    } catch (IOException e) {
      throw new SpecException("spec is not valid JSON: " + e.getMessage(), e);
    }
  }

  /** Builds a component and checks its type. */
  public static <T> T build(String specJson, Class<T> type) {
    return build(parse(specJson), type);
  }

  /**
   * Builds a component and checks its type. An unknown class name is an error that lists the classes of that type
   * (with the closest one as a "did you mean").
   */
  public static <T> T build(JsonNode spec, Class<T> type) {
    return cast(buildExpecting(spec, type), type);
  }

  private static <T> T cast(Object o, Class<T> type) {
    if (!type.isInstance(o)) {
      throw new SpecException("expected a " + type.getSimpleName() + ", got " + o.getClass().getSimpleName());
    }
    return type.cast(o);
  }

  /** Builds a component from a parsed spec. A bare string {@code "MeanReducer"} is a spec without params. */
  public static Object build(JsonNode spec) {
    return buildExpecting(spec, null);
  }

  private static Object buildExpecting(JsonNode spec, Class<?> expected) {
    String cls;
    JsonNode params;
    if (spec == null) {
      throw new SpecException("spec must not be null");
    }
    if (spec.isTextual()) {
      cls = spec.textValue();
      params = null;
    } else if (spec.isObject() && spec.has("class")) {
      cls = spec.get("class").asText();
      params = spec.get("params");
      spec.fieldNames().forEachRemaining(f -> {
        if (!f.equals("class") && !f.equals("params")) {
          throw new SpecException(
              "spec for " + cls + " has unknown field '" + f + "'; a spec is {\"class\", \"params\"}");
        }
      });
    } else {
      throw new SpecException("a spec is {\"class\": NAME, \"params\": {...}}, got " + spec);
    }
    Method factory = factory(cls, expected);
    Params p = new Params(cls, params);
    Object built;
    try {
      built = factory.invoke(null, p);
    } catch (InvocationTargetException e) {
      Throwable c = e.getCause();
      if (c instanceof SpecException se) {
        throw se;
      }
      if (c instanceof IllegalArgumentException || c instanceof IllegalStateException
          || c instanceof UnsupportedOperationException) {
        throw new SpecException(cls + ": " + c.getMessage(), c);
      }
      throw new SpecException("building " + cls + " failed: " + c, c);
    } catch (IllegalAccessException e) {
      throw new SpecException("cannot call " + cls + ".fromSpec", e);
    }
    p.done();
    return built;
  }

  /** Whether a class name resolves to a registered component. */
  public static boolean isRegistered(String className) {
    try {
      factory(className, null);
      return true;
    } catch (SpecException e) {
      return false;
    }
  }

  private static Method factory(String cls, Class<?> expected) {
    Method m = CACHE.get(cls);
    if (m != null) {
      return m;
    }
    for (String pkg : PACKAGES) {
      try {
        Class<?> c = Class.forName(pkg + "." + cls);
        Method f = c.getMethod("fromSpec", Params.class);
        if (Modifier.isStatic(f.getModifiers())) {
          CACHE.put(cls, f);
          return f;
        }
      } catch (ClassNotFoundException | NoSuchMethodException e) {
        // try the next package
      }
    }
    List<String> kind = expected == null ? List.of() : knownClassesOf(expected);
    if (!kind.isEmpty()) {
      throw new SpecException("unknown class '" + cls + "'" + Messages.didYouMean(cls, kind) + " (expected a "
          + expected.getSimpleName() + ": " + String.join(", ", kind) + ")");
    }
    List<String> all = knownClasses();
    throw new SpecException("unknown class '" + cls + "'" + Messages.didYouMean(cls, all) + "; known classes are "
        + all);
  }

  /** The registered component names whose class, or whose factory's result, is a {@code kind}, sorted. */
  public static List<String> knownClassesOf(Class<?> kind) {
    List<String> out = new ArrayList<>();
    for (String pkg : PACKAGES) {
      for (String n : ClassScan.classNames(pkg)) {
        try {
          Class<?> c = Class.forName(pkg + "." + n);
          Method f = c.getMethod("fromSpec", Params.class);
          if (Modifier.isStatic(f.getModifiers())
              && (kind.isAssignableFrom(c) || kind.isAssignableFrom(f.getReturnType()))) {
            out.add(n);
          }
        } catch (ClassNotFoundException | NoSuchMethodException | NoClassDefFoundError e) {
          // not a component
        }
      }
    }
    out.sort(null);
    return out;
  }

  /** Every registered component name, by package (scans the packages on the class path). */
  public static Map<String, List<String>> knownClassesByPackage() {
    Map<String, List<String>> out = new TreeMap<>();
    for (String pkg : PACKAGES) {
      List<String> names = new ArrayList<>();
      for (String n : ClassScan.classNames(pkg)) {
        try {
          Class<?> c = Class.forName(pkg + "." + n);
          Method f = c.getMethod("fromSpec", Params.class);
          if (Modifier.isStatic(f.getModifiers())) {
            names.add(n);
          }
        } catch (ClassNotFoundException | NoSuchMethodException | NoClassDefFoundError e) {
          // not a component
        }
      }
      if (!names.isEmpty()) {
        out.put(pkg.substring(pkg.lastIndexOf('.') + 1), names);
      }
    }
    return out;
  }

  static List<String> knownClasses() {
    List<String> all = new ArrayList<>();
    knownClassesByPackage().values().forEach(all::addAll);
    all.sort(null);
    return all;
  }
}
