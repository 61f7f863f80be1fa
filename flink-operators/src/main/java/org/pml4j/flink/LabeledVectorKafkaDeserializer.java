package org.pml4j.flink;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Reads a Kafka record whose value is one JSON {@link LabeledVector} ({@link RecordParsers}: {@code {"id", "label",
 * "vector"}}). A record without an {@code id} gets {@code partition << 48 | offset}, unique and stable across replays.
 * Unreadable values become records that validation rejects; tombstones (null values) are skipped.
 */
public final class LabeledVectorKafkaDeserializer implements KafkaRecordDeserializationSchema<LabeledVector> {
  private static final long serialVersionUID = 1L;

  @Override
  public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<LabeledVector> out) {
    if (record.value() == null) {
      return;
    }
    long position = ((long) record.partition() << 48) | (record.offset() & ((1L << 48) - 1));
    out.collect(RecordParsers.parseJson(record.value(), position));
  }

  @Override
  public TypeInformation<LabeledVector> getProducedType() {
    return TypeInformation.of(LabeledVector.class);
  }
}
