package org.pml4j.data;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A named kind of {@link DataSource}, found by {@link DataSources} through {@link java.util.ServiceLoader}: a new
 * source is one class implementing this (and its {@link DataSource}), listed in
 * {@code META-INF/services/org.pml4j.data.DataSourceProvider}.
 */
public interface DataSourceProvider {
  /** The name users give ({@code --dataset NAME}): lower case, e.g. {@code fashion-mnist}. */
  String name();

  /**
   * Opens a split.
   *
   * @param split train or test
   * @param options the source's settings as a JSON object (snake_case keys; absent keys take the source's defaults);
   *     never null
   * @throws IllegalArgumentException naming a bad or unknown option
   */
  DataSource open(DataSource.Split split, JsonNode options);
}
