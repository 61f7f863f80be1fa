package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Kafka sources of the retrieval catalog and queries (JSON values), for {@link RetrievalStage} (job keys
 * {@code retrieval.catalog_topic} and {@code retrieval.query_topic}, with the broker, consumer group and boundedness of
 * {@code kafka.*}).
 *
 * <ul>
 *   <li>Catalog: {@code {"id": 7, "vector": [...], "label": 3, "op": "upsert"}} ({@code label} optional; {@code op}
 *       upsert, the default, or delete, whose vector may be left out).
 *   <li>Query: {@code {"qid": 7, "vector": [...], "k": 10}} ({@code id} is read when {@code qid} is missing; {@code k}
 *       defaults to {@code retrieval.k}).
 * </ul>
 *
 * <p>The id, label and vector are read by {@link RecordParsers} (as for training records). An unreadable value
 * becomes a record that validation sends to the rejected side output with the reason; a tombstone (null value) is
 * skipped. Records without an id get none (rejected as {@code missing_id}): a catalog id must be the item's.
 */
final class RetrievalKafka {
  private RetrievalKafka() {}

  static KafkaSource<CatalogRecord> catalog(StreamJobConfig.Kafka k, String topic) {
    return Sources.kafka(k.bootstrapServers, topic, k.groupId + "-retrieval-catalog", k.bounded, new Catalog());
  }

  static KafkaSource<Query> queries(StreamJobConfig.Kafka k, String topic, int defaultK) {
    return Sources.kafka(k.bootstrapServers, topic, k.groupId + "-retrieval-queries", k.bounded,
        new Queries(defaultK));
  }

  /** The JSON object of a value, or null (then {@code fail} holds why). */
  private static JsonNode object(byte[] value, String[] fail) {
    try {
      JsonNode n = StreamJobConfig.JSON.readTree(value);
      if (n != null && n.isObject()) {
        return n;
      }
      fail[0] = "not a JSON object";
    } catch (IOException e) {
      fail[0] = "not JSON";
    }
    return null;
  }

  private static Long longField(JsonNode n, String name) {
    JsonNode v = n.get(name);
    return v != null && v.isIntegralNumber() && v.canConvertToLong() ? v.longValue() : null;
  }

  /** Catalog records. */
  static final class Catalog implements KafkaRecordDeserializationSchema<CatalogRecord> {
    private static final long serialVersionUID = 1L;

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<CatalogRecord> out) {
      if (record.value() == null) {
        return;
      }
      CatalogRecord r = new CatalogRecord();
      String[] fail = new String[1];
      JsonNode n = object(record.value(), fail);
      if (n == null) {
        r.parseReason = RejectedRecord.MALFORMED;
        r.parseDetail = fail[0];
      } else {
        LabeledVector v = RecordParsers.parseJson(record.value(), -1);
        r.id = longField(n, "id");
        r.vector = v.features;
        r.label = v.label;
        r.op = n.hasNonNull("op") ? n.get("op").asText() : CatalogRecord.UPSERT;
        boolean delete = CatalogRecord.DELETE.equals(r.op);
        if (v.parseReason != null && !(delete && v.features == null)) {
          r.parseReason = v.parseReason;
          r.parseDetail = v.parseDetail;
        }
      }
      out.collect(r);
    }

    @Override
    public TypeInformation<CatalogRecord> getProducedType() {
      return TypeInformation.of(CatalogRecord.class);
    }
  }

  /** Queries. */
  static final class Queries implements KafkaRecordDeserializationSchema<Query> {
    private static final long serialVersionUID = 1L;
    private final int defaultK;

    Queries(int defaultK) {
      this.defaultK = defaultK;
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Query> out) {
      if (record.value() == null) {
        return;
      }
      Query q = new Query();
      String[] fail = new String[1];
      JsonNode n = object(record.value(), fail);
      if (n == null) {
        q.parseReason = RejectedRecord.MALFORMED;
        q.parseDetail = fail[0];
      } else {
        LabeledVector v = RecordParsers.parseJson(record.value(), -1);
        q.qid = n.has("qid") ? longField(n, "qid") : longField(n, "id");
        q.vector = v.features;
        JsonNode k = n.get("k");
        q.k = k == null || k.isNull() ? defaultK : k.canConvertToInt() && k.isIntegralNumber() ? k.intValue() : -1;
        q.parseReason = v.parseReason;
        q.parseDetail = v.parseDetail;
      }
      out.collect(q);
    }

    @Override
    public TypeInformation<Query> getProducedType() {
      return TypeInformation.of(Query.class);
    }
  }
}
