package org.pml4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reader of the IDX format of MNIST and Fashion-MNIST (gzip-compressed or plain): a 4-byte magic {@code 0, 0, type,
 * rank}, {@code rank} big-endian int32 dimensions, then the values row-major. Only type {@code 0x08} (unsigned byte)
 * is supported, which is what (Fashion-)MNIST uses.
 */
public final class Idx {
  /** An unsigned-byte IDX array: its dimensions and values (0..255, as int). */
  public record UByteArray(int[] dims, byte[] values) {
    /** Value at flat position {@code i}, 0..255. */
    public int get(int i) {
      return values[i] & 0xff;
    }
  }

  private Idx() {}

  /**
   * Reads an IDX file of unsigned bytes.
   *
   * @param expectedRank the rank the caller needs (3 for images, 1 for labels)
   * @throws IllegalArgumentException naming the file when it is not such an IDX file, is truncated or has extra bytes
   * @throws IOException when it cannot be read
   */
  public static UByteArray readUBytes(Path file, int expectedRank) throws IOException {
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      raw.mark(2);
      int b0 = raw.read();
      int b1 = raw.read();
      raw.reset();
      boolean gzip = b0 == 0x1f && b1 == 0x8b;
      try (DataInputStream in = new DataInputStream(gzip ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16),
          1 << 16) : raw)) {
        int magic = in.readInt();
        int type = (magic >>> 8) & 0xff;
        int rank = magic & 0xff;
        if ((magic >>> 16) != 0 || type != 0x08) {
          throw corrupt(file, String.format("bad magic 0x%08x (expected 0x000008%02x: unsigned bytes, rank %d)", magic,
              expectedRank, expectedRank));
        }
        if (rank != expectedRank) {
          throw corrupt(file, "rank " + rank + ", expected " + expectedRank);
        }
        int[] dims = new int[rank];
        long n = 1;
        for (int i = 0; i < rank; i++) {
          dims[i] = in.readInt();
          if (dims[i] < 0) {
            throw corrupt(file, "negative dimension " + dims[i]);
          }
          n *= dims[i];
        }
        if (n > Integer.MAX_VALUE - 16) {
          throw corrupt(file, "too many values: " + Arrays.toString(dims));
        }
        byte[] values = new byte[(int) n];
        try {
          in.readFully(values);
        } catch (EOFException e) {
          throw corrupt(file, "truncated: dimensions " + Arrays.toString(dims) + " promise " + n + " values");
        }
        if (in.read() != -1) {
          throw corrupt(file, "trailing bytes after " + n + " values");
        }
        return new UByteArray(dims, values);
      } catch (EOFException e) {
        throw corrupt(file, "truncated header");
      } catch (ZipException e) {
        throw corrupt(file, "broken gzip stream: " + e.getMessage());
      }
    }
  }

  static IllegalArgumentException corrupt(Path file, String why) {
    return new IllegalArgumentException("corrupt IDX file " + file + ": " + why);
  }
}
