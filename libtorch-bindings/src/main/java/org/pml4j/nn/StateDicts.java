package org.pml4j.nn;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;

/**
 * A state dict (parameter and buffer tensors by name) as bytes, bit-exact both ways.
 *
 * <p>Format (big-endian framing by {@link DataOutputStream}, tensor payloads little-endian as in memory):
 *
 * <pre>
 *   "PML4JSD1"                      8 ASCII bytes
 *   int   count
 *   count × { UTF name, UTF dtype (ScalarType name, e.g. "Float", "Long"), int rank, long[rank] dims,
 *             long nbytes, nbytes raw bytes (row-major, contiguous) }
 * </pre>
 *
 * Loading copies into the existing tensors (under no_grad), so parameter identity (and an optimizer holding them) is
 * kept. Names, shapes and dtypes must match exactly; a mismatch is an {@link IllegalArgumentException} naming it.
 */
public final class StateDicts {
  private static final byte[] MAGIC = {'P', 'M', 'L', '4', 'J', 'S', 'D', '1'};

  private StateDicts() {}

  /** Serializes tensors by name. */
  public static byte[] save(Map<String, Tensor> tensors) {
    requireLittleEndian();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (Scope s = Scope.open(); DataOutputStream out = new DataOutputStream(bytes)) {
      out.write(MAGIC);
      out.writeInt(tensors.size());
      for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
        Tensor t = e.getValue().detach().contiguous().cpu();
        out.writeUTF(e.getKey());
        out.writeUTF(Tensors.dtype(t).name());
        long[] dims = Tensors.shape(t);
        out.writeInt(dims.length);
        for (long d : dims) {
          out.writeLong(d);
        }
        long n = t.nbytes();
        out.writeLong(n);
        byte[] raw = new byte[Math.toIntExact(n)];
        if (n > 0) {
          BytePointer p = new BytePointer(t.data_ptr());
          p.capacity(n).limit(n);
          p.get(raw, 0, raw.length);
        }
        out.write(raw);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bytes.toByteArray();
  }

  /** Parses bytes written by {@link #save} into new CPU tensors (owned by the caller's scope, if one is open). */
  public static Map<String, Tensor> read(byte[] state) {
    requireLittleEndian();
    Map<String, Tensor> out = new LinkedHashMap<>();
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state))) {
      byte[] magic = new byte[MAGIC.length];
      in.readFully(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IllegalArgumentException("not a pml4j state dict (bad magic)");
      }
      int count = in.readInt();
      for (int i = 0; i < count; i++) {
        String name = in.readUTF();
        ScalarType dtype;
        String dt = in.readUTF();
        try {
          dtype = ScalarType.valueOf(dt);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("state dict entry '" + name + "' has unknown dtype " + dt);
        }
        long[] dims = new long[in.readInt()];
        for (int k = 0; k < dims.length; k++) {
          dims[k] = in.readLong();
        }
        byte[] raw = new byte[Math.toIntExact(in.readLong())];
        in.readFully(raw);
        Tensor t = torch.empty(dims, new TensorOptions(dtype), null);
        if (t.nbytes() != raw.length) {
          throw new IllegalArgumentException("state dict entry '" + name + "': " + raw.length + " bytes for shape "
              + Arrays.toString(dims) + " of " + dt);
        }
        if (raw.length > 0) {
          BytePointer p = new BytePointer(t.data_ptr());
          p.capacity(raw.length).limit(raw.length);
          p.put(raw, 0, raw.length);
        }
        out.put(name, t);
      }
      if (in.available() > 0) {
        throw new IllegalArgumentException("state dict has " + in.available() + " trailing bytes");
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("truncated or corrupt state dict: " + e, e);
    }
    return out;
  }

  /** Copies saved values into {@code targets}: same names, shapes and dtypes required. */
  public static void load(Map<String, Tensor> targets, byte[] state) {
    try (Scope s = Scope.open()) {
      Map<String, Tensor> saved = read(state);
      if (!saved.keySet().equals(targets.keySet())) {
        throw new IllegalArgumentException("state dict names differ: saved " + saved.keySet() + ", expected "
            + targets.keySet());
      }
      for (Map.Entry<String, Tensor> e : targets.entrySet()) {
        Tensor src = saved.get(e.getKey());
        Tensor dst = e.getValue();
        if (!Arrays.equals(Tensors.shape(src), Tensors.shape(dst))) {
          throw new IllegalArgumentException("state dict entry '" + e.getKey() + "' has shape "
              + Tensors.shapeString(src) + ", expected " + Tensors.shapeString(dst));
        }
        if (Tensors.dtype(src) != Tensors.dtype(dst)) {
          throw new IllegalArgumentException("state dict entry '" + e.getKey() + "' has dtype " + Tensors.dtype(src)
              + ", expected " + Tensors.dtype(dst));
        }
      }
      try (NoGradGuard g = new NoGradGuard()) {
        for (Map.Entry<String, Tensor> e : targets.entrySet()) {
          e.getValue().copy_(saved.get(e.getKey()));
        }
      }
    }
  }

  /** Converts every floating tensor of the layer to {@code dtype} in place (the module keeps the same tensors). */
  static void castFloating(Layer layer, ScalarType dtype) {
    if (!Tensors.isFloating(dtype)) {
      throw new IllegalArgumentException("not a floating dtype: " + dtype);
    }
    try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
      for (Tensor t : layer.stateDict().values()) {
        if (Tensors.isFloating(Tensors.dtype(t)) && Tensors.dtype(t) != dtype) {
          t.__dispatch_set_data(t.detach().to(dtype));
        }
      }
    }
  }

  private static void requireLittleEndian() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException("pml4j state dicts need a little-endian platform");
    }
  }
}
