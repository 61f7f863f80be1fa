package org.pml4j.flink;

import java.io.IOException;
import org.apache.flink.core.io.SimpleVersionedSerialization;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.pml4j.train.EngineState;
import org.pml4j.train.EngineStateCodec;

/**
 * Flink's {@link SimpleVersionedSerializer} of the trainer's {@link EngineState}: {@link EngineStateCodec} (which
 * documents the versions and the policy for changing the format) behind Flink's interface.
 *
 * <p>The {@link TrainerOperator} keeps one entry in a {@code ListState<byte[]>}: since version 2 the entry is
 * {@link SimpleVersionedSerialization#writeVersionAndSerialize} ({@code int version · int length · bytes}); a version-1
 * entry (written before this class) is the bare state, recognized by its magic {@code "PML4JTR2"} (an entry of version
 * 2 or later starts with a small int, never with 'P').
 */
public final class EngineStateSerializer implements SimpleVersionedSerializer<EngineState> {
  /** The one instance (stateless). */
  public static final EngineStateSerializer INSTANCE = new EngineStateSerializer();

  private EngineStateSerializer() {}

  @Override
  public int getVersion() {
    return EngineStateCodec.VERSION;
  }

  @Override
  public byte[] serialize(EngineState state) {
    return EngineStateCodec.serialize(state);
  }

  @Override
  public EngineState deserialize(int version, byte[] serialized) {
    return EngineStateCodec.deserialize(version, serialized);
  }

  /** The list-state entry of {@code state}: the current version and its bytes. */
  public static byte[] toEntry(EngineState state) throws IOException {
    return SimpleVersionedSerialization.writeVersionAndSerialize(INSTANCE, state);
  }

  /**
   * Reads a list-state entry of any version.
   *
   * @throws IllegalArgumentException when the entry is not a trainer state this code can read
   */
  public static EngineState fromEntry(byte[] entry) throws IOException {
    if (EngineStateCodec.isVersion1(entry)) {
      return INSTANCE.deserialize(1, entry);
    }
    if (entry == null || entry.length < 8) {
      throw new IllegalArgumentException("trainer state entry of " + (entry == null ? 0 : entry.length)
          + " bytes is neither a version-1 state nor a versioned one");
    }
    return SimpleVersionedSerialization.readVersionAndDeSerialize(INSTANCE, entry);
  }
}
