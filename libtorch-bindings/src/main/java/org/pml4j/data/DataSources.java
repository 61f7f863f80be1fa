package org.pml4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The registry of named data sources ({@link DataSourceProvider}s found with {@link ServiceLoader}): built in are
 * {@code fashion-mnist} ({@link FashionMnist}), {@code synthetic} ({@link SyntheticClusters}), {@code csv} and
 * {@code jsonl} ({@link RecordFile}).
 *
 * <pre>{@code
 * DataSource train = DataSources.open("synthetic", DataSource.Split.TRAIN, options);
 * LabeledDataset rows = train.load(5_000);
 * }</pre>
 */
public final class DataSources {
  private DataSources() {}

  private static Map<String, DataSourceProvider> providers() {
    Map<String, DataSourceProvider> out = new TreeMap<>();
    for (DataSourceProvider p : ServiceLoader.load(DataSourceProvider.class, DataSources.class.getClassLoader())) {
      DataSourceProvider old = out.putIfAbsent(p.name(), p);
      if (old != null && old.getClass() != p.getClass()) {
        throw new IllegalStateException("two data sources named '" + p.name() + "': " + old.getClass().getName()
            + " and " + p.getClass().getName());
      }
    }
    return out;
  }

  /** The names of the registered sources, sorted. */
  public static List<String> names() {
    return List.copyOf(providers().keySet());
  }

  /** Whether a source of that name is registered. */
  public static boolean has(String name) {
    return providers().containsKey(name);
  }

  /**
   * Opens split {@code split} of the source {@code name}.
   *
   * @param options the source's settings (a JSON object), or null for its defaults
   * @throws IllegalArgumentException for an unknown name (listing the known ones) or bad options
   */
  public static DataSource open(String name, DataSource.Split split, JsonNode options) {
    DataSourceProvider p = providers().get(name);
    if (p == null) {
      throw new IllegalArgumentException("unknown dataset '" + name + "'; known: " + String.join(", ", names()));
    }
    if (options != null && !options.isNull() && !options.isObject()) {
      throw new IllegalArgumentException(name + ": options must be a JSON object, got " + options.getNodeType());
    }
    return p.open(split, options == null || options.isNull() ? JsonNodeFactory.instance.objectNode() : options);
  }
}
