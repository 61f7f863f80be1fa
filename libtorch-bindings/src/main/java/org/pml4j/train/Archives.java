package org.pml4j.train;

import java.io.ByteArrayOutputStream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.OutputArchive;

/** LibTorch's serialize archives ({@code torch::serialize::OutputArchive/InputArchive}) to and from Java bytes. */
final class Archives {
  private Archives() {}

  /** The bytes of an archive ({@code archive.save_to(writer)}). */
  static byte[] toBytes(OutputArchive archive) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ArchiveWriter writer = new ArchiveWriter() {
      @Override
      public long call(Pointer data, long n) {
        if (n > 0) {
          byte[] chunk = new byte[Math.toIntExact(n)];
          new BytePointer(data).capacity(n).limit(n).get(chunk);
          out.write(chunk, 0, chunk.length);
        }
        return n;
      }
    };
    try {
      archive.save_to(writer);
    } finally {
      writer.close();
    }
    return out.toByteArray();
  }

  /** An archive read from bytes. */
  static InputArchive fromBytes(byte[] bytes) {
    return fromBytes(bytes, null);
  }

  /**
   * An archive read from bytes, its tensors on {@code device} whatever device they were saved from (LibTorch's
   * {@code map_location}); null: where they were saved.
   */
  static InputArchive fromBytes(byte[] bytes, Device device) {
    InputArchive in = new InputArchive();
    try (BytePointer p = new BytePointer(bytes.length)) {
      p.put(bytes, 0, bytes.length);
      if (device == null) {
        in.load_from(p, bytes.length);
      } else {
        try (DeviceOptional d = new DeviceOptional(device)) {
          in.load_from(p, bytes.length, d);
        }
      }
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a LibTorch archive: " + e.getMessage(), e);
    }
    return in;
  }
}
