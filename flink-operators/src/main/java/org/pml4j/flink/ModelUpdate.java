package org.pml4j.flink;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A trained encoder published by the {@link TrainerOperator}: the ONNX model ({@link org.pml4j.onnx.OnnxExporter}, with
 * {@code model_version} and {@code training_step} in its metadata) and the trainer's figures at that point.
 *
 * <p>A Flink POJO; the metrics map uses Flink's built-in map serializer (no Kryo).
 */
public class ModelUpdate {
  /** Model version: 0 for the untrained encoder, then 1, 2, … in publication order. */
  public long version;
  /** Training steps done when the model was exported. */
  public long step;
  /** The serialized ONNX ModelProto. */
  public byte[] onnx;
  /**
   * Trainer figures: {@code loss} (of the last step), {@code samples} (trained so far), {@code train_seconds} (time
   * spent in training steps so far), {@code queue_fill}, and whatever else the trainer reports.
   */
  public Map<String, Double> metrics;
  /** Wall-clock time (epoch milliseconds) when the model was exported: the start of the refresh latency. */
  public long createdAtMillis;

  public ModelUpdate() {}

  public ModelUpdate(long version, long step, byte[] onnx, Map<String, Double> metrics, long createdAtMillis) {
    this.version = version;
    this.step = step;
    this.onnx = onnx;
    this.metrics = metrics == null ? new LinkedHashMap<>() : new LinkedHashMap<>(metrics);
    this.createdAtMillis = createdAtMillis;
  }

  /** A metric, or {@code def} when absent. */
  public double metric(String name, double def) {
    Double v = metrics == null ? null : metrics.get(name);
    return v == null ? def : v;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ModelUpdate m && m.version == version && m.step == step && Arrays.equals(m.onnx, onnx)
        && Objects.equals(m.metrics, metrics) && m.createdAtMillis == createdAtMillis;
  }

  @Override
  public int hashCode() {
    return Objects.hash(version, step, metrics, createdAtMillis) * 31 + Arrays.hashCode(onnx);
  }

  @Override
  public String toString() {
    return "ModelUpdate{version=" + version + ", step=" + step + ", onnx=" + (onnx == null ? 0 : onnx.length)
        + " bytes, metrics=" + metrics + "}";
  }
}
