package org.pml4j.flink;


/**
 * The broadcast input of a {@link RetrievalShard}: either a model version or a query (exactly one field is set), so
 * that both reach every shard. A Flink POJO.
 */
public class ShardInput {
  /** A published model, or null. */
  public ModelUpdate model;
  /** A query, or null. */
  public Query query;

  public ShardInput() {}

  /** Wraps a model. */
  public static ShardInput of(ModelUpdate model) {
    ShardInput s = new ShardInput();
    s.model = model;
    return s;
  }

  /** Wraps a query. */
  public static ShardInput of(Query query) {
    ShardInput s = new ShardInput();
    s.query = query;
    return s;
  }

  @Override
  public String toString() {
    return model != null ? "ShardInput{" + model + "}" : "ShardInput{" + query + "}";
  }
}
