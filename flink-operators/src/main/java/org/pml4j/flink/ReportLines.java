package org.pml4j.flink;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.pml4j.onnx.ModelPublisher;

/**
 * The JSON lines of the stream job's report files ({@code rejected.jsonl}, {@code model_updates.jsonl},
 * {@code evaluations.jsonl}, {@code embeddings.jsonl}) and of its Kafka topics, which carry the same lines.
 */
final class ReportLines {
  private static final ObjectMapper LINES = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);

  private ReportLines() {}

  /** {@code {"id", "reason", "detail"}}. */
  static String rejected(RejectedRecord r) {
    ObjectNode n = LINES.createObjectNode();
    n.put("id", r.record.id);
    n.put("reason", r.reason);
    n.put("detail", r.detail);
    return n.toString();
  }

  /** {@code {"version", "step", "model_file", "onnx_bytes", "created_at_ms", "metrics": {...}}}. */
  static String update(ModelUpdate u) {
    ObjectNode n = LINES.createObjectNode();
    n.put("version", u.version);
    n.put("step", u.step);
    n.put("model_file", ModelPublisher.fileName(u.version));
    n.put("onnx_bytes", u.onnx.length);
    n.put("created_at_ms", u.createdAtMillis);
    ObjectNode m = n.putObject("metrics");
    u.metrics.forEach(m::put);
    return n.toString();
  }

  /** {@code {"version", "step", "precision_at_1", "mean_average_precision_at_r", "samples", "evaluated_at_ms"}}. */
  static String evaluation(EvalResult e) {
    ObjectNode n = LINES.createObjectNode();
    n.put("version", e.modelVersion);
    n.put("step", e.step);
    n.put("precision_at_1", e.precisionAt1);
    n.put("mean_average_precision_at_r", e.meanAveragePrecisionAtR);
    n.put("samples", e.samples);
    n.put("evaluated_at_ms", e.evaluatedAtMillis);
    return n.toString();
  }

  /** {@code {"id", "label" (when known), "model_version", "vector": [...]}}. */
  static String embedding(Embedding e) {
    ObjectNode n = LINES.createObjectNode();
    n.put("id", e.id);
    if (e.label != null) {
      n.put("label", e.label);
    }
    n.put("model_version", e.modelVersion);
    ArrayNode a = n.putArray("vector");
    for (float x : e.vector) {
      a.add(x);
    }
    return n.toString();
  }

  /**
   * An at-least-once Kafka sink of JSON lines into {@code topic} of {@code bootstrapServers}, each keyed by the value
   * of its field {@code keyField}.
   */
  static KafkaSink<String> kafkaSink(String bootstrapServers, String topic, String keyField) {
    return KafkaSink.<String>builder().setBootstrapServers(bootstrapServers)
        .setRecordSerializer(KafkaRecordSerializationSchema.<String>builder().setTopic(topic)
            .setKeySerializationSchema(new JsonFieldKey(keyField))
            .setValueSerializationSchema(new SimpleStringSchema()).build())
        .setDeliveryGuarantee(DeliveryGuarantee.AT_LEAST_ONCE).build();
  }

  /** The text of one field of a JSON line, as UTF-8 bytes (a Kafka record key). */
  static final class JsonFieldKey implements SerializationSchema<String> {
    private static final long serialVersionUID = 1L;
    private final String field;

    JsonFieldKey(String field) {
      this.field = field;
    }

    @Override
    public byte[] serialize(String json) {
      try {
        return LINES.readTree(json).path(field).asText().getBytes(StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
