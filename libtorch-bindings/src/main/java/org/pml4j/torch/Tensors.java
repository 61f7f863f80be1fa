package org.pml4j.torch;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorIndex;
import org.bytedeco.pytorch.TensorIndexVector;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Tensor ↔ Java array conversion and the small vocabulary of PyTorch idioms the ports need
 * ({@code mat[rows, cols]}, {@code torch.where(mask)}, finite sentinels, …).
 *
 * <p>Every method returns new native tensors; call them inside a {@link Scope} (a JavaCPP {@code PointerScope}) so
 * that the temporaries are freed at the end of the step.
 */
public final class Tensors {
  static {
    Torch.ensureLoaded();
  }

  private Tensors() {}

  // ---------------------------------------------------------------- creation

  /** A 2-D tensor of the given floating dtype ({@link ScalarType#Float} or {@link ScalarType#Double}). */
  public static Tensor of(double[][] rows, ScalarType dtype) {
    int n = rows.length;
    int d = n == 0 ? 0 : rows[0].length;
    double[] flat = new double[n * d];
    for (int i = 0; i < n; i++) {
      if (rows[i].length != d) {
        throw new IllegalArgumentException(
            "ragged matrix: row " + i + " has " + rows[i].length + " values, row 0 has " + d);
      }
      System.arraycopy(rows[i], 0, flat, i * d, d);
    }
    return of(flat, dtype, n, d);
  }

  /** A tensor of the given floating dtype and shape from row-major values. */
  public static Tensor of(double[] values, ScalarType dtype, long... shape) {
    Tensor t = Tensor.create(values, shape);
    return dtype == ScalarType.Double ? t : t.to(dtype);
  }

  /** A 1-D tensor of the given floating dtype. */
  public static Tensor of(double[] values, ScalarType dtype) {
    return of(values, dtype, values.length);
  }

  /** A 1-D int64 tensor. */
  public static Tensor longs(long... values) {
    return Tensor.create(values, values.length);
  }

  /** A 1-D bool tensor. */
  public static Tensor bools(boolean... values) {
    return Tensor.create(values, values.length);
  }

  /** A float32 2-D tensor. */
  public static Tensor floats(float[][] rows) {
    int n = rows.length;
    int d = n == 0 ? 0 : rows[0].length;
    float[] flat = new float[n * d];
    for (int i = 0; i < n; i++) {
      if (rows[i].length != d) {
        throw new IllegalArgumentException(
            "ragged matrix: row " + i + " has " + rows[i].length + " values, row 0 has " + d);
      }
      System.arraycopy(rows[i], 0, flat, i * d, d);
    }
    return Tensor.create(flat, n, d);
  }

  /** An empty 1-D int64 tensor on the device of {@code like}. */
  public static Tensor emptyLong(Tensor like) {
    return torch.empty(new long[] {0}, options(ScalarType.Long, like), null);
  }

  /** {@code torch.arange(n)} as int64 on the device of {@code like}. */
  public static Tensor arange(long n, Tensor like) {
    return torch.arange(new Scalar(n), options(ScalarType.Long, like));
  }

  /** Zeros of a shape with the dtype and device of {@code like}. */
  public static Tensor zeros(Tensor like, long... shape) {
    return torch.zeros(shape, options(like.scalar_type().intern(), like));
  }

  /** Zeros of a shape, dtype and the device of {@code like}. */
  public static Tensor zeros(ScalarType dtype, Tensor like, long... shape) {
    return torch.zeros(shape, options(dtype, like));
  }

  /** A 0-dim tensor holding {@code v} with the dtype and device of {@code like}. */
  public static Tensor scalarLike(double v, Tensor like) {
    return torch.full(new long[] {}, new Scalar(v), options(like.scalar_type().intern(), like));
  }

  /** Tensor options for a dtype on the device of {@code like}. */
  public static TensorOptions options(ScalarType dtype, Tensor like) {
    return new TensorOptions(dtype).device(new org.bytedeco.pytorch.DeviceOptional(like.device()));
  }

  /** A LibTorch scalar. */
  public static Scalar s(double v) {
    return new Scalar(v);
  }

  /** A LibTorch integer scalar. */
  public static Scalar s(long v) {
    return new Scalar(v);
  }

  // ---------------------------------------------------------------- conversion to Java

  /** All values, row-major, widened to double. */
  public static double[] toDoubles(Tensor t) {
    Tensor c = t.detach().to(ScalarType.Double).contiguous().cpu();
    double[] out = new double[(int) c.numel()];
    if (out.length > 0) {
      DoublePointer p = c.data_ptr_double();
      p.get(out);
    }
    return out;
  }

  /** A 2-D tensor as a double matrix. */
  public static double[][] toDoubles2d(Tensor t) {
    if (t.dim() != 2) {
      throw new IllegalArgumentException("expected a 2-D tensor, got shape " + shapeString(t));
    }
    int n = (int) t.size(0);
    int d = (int) t.size(1);
    double[] flat = toDoubles(t);
    double[][] out = new double[n][d];
    for (int i = 0; i < n; i++) {
      System.arraycopy(flat, i * d, out[i], 0, d);
    }
    return out;
  }

  /** All values, row-major, as float. */
  public static float[] toFloats(Tensor t) {
    Tensor c = t.detach().to(ScalarType.Float).contiguous().cpu();
    float[] out = new float[(int) c.numel()];
    if (out.length > 0) {
      FloatPointer p = c.data_ptr_float();
      p.get(out);
    }
    return out;
  }

  /** All values as int64. */
  public static long[] toLongs(Tensor t) {
    Tensor c = t.detach().to(ScalarType.Long).contiguous().cpu();
    long[] out = new long[(int) c.numel()];
    if (out.length > 0) {
      LongPointer p = c.data_ptr_long();
      p.get(out);
    }
    return out;
  }

  /** All values as booleans. */
  public static boolean[] toBools(Tensor t) {
    // one bulk copy of the 0/1 bytes (a JNI call per element cost ~50 ns each)
    Tensor c = t.detach().to(ScalarType.Bool).to(ScalarType.Byte).contiguous().cpu();
    boolean[] out = new boolean[(int) c.numel()];
    if (out.length > 0) {
      byte[] b = new byte[out.length];
      new org.bytedeco.javacpp.BytePointer(c.data_ptr()).get(b);
      for (int i = 0; i < out.length; i++) {
        out[i] = b[i] != 0;
      }
    }
    return out;
  }

  /** The single value of a one-element tensor. */
  public static double item(Tensor t) {
    return t.item_double();
  }

  /** The shape as a Java array. */
  public static long[] shape(Tensor t) {
    long[] s = new long[(int) t.dim()];
    for (int i = 0; i < s.length; i++) {
      s[i] = t.size(i);
    }
    return s;
  }

  /** The shape as {@code [a, b]}. */
  public static String shapeString(Tensor t) {
    return java.util.Arrays.toString(shape(t));
  }

  // ---------------------------------------------------------------- indexing idioms

  /** {@code mat[rows, cols]} (advanced indexing, differentiable). */
  public static Tensor index2(Tensor mat, Tensor rows, Tensor cols) {
    return mat.index(new TensorIndexVector(new TensorIndex(rows), new TensorIndex(cols)));
  }

  /** {@code mat[rows, cols] = value} in place. */
  public static void put2(Tensor mat, Tensor rows, Tensor cols, double value) {
    mat.index_put_(new TensorIndexVector(new TensorIndex(rows), new TensorIndex(cols)), new Scalar(value));
  }

  /** {@code mat[rows, cols] = values} in place. */
  public static void put2(Tensor mat, Tensor rows, Tensor cols, Tensor values) {
    mat.index_put_(new TensorIndexVector(new TensorIndex(rows), new TensorIndex(cols)), values);
  }

  /** {@code t[idx]} for an int64 index tensor or a bool mask (differentiable). */
  public static Tensor index(Tensor t, Tensor idx) {
    return t.index(new TensorIndexVector(new TensorIndex(idx)));
  }

  /** {@code t[idx] = value} in place, idx an int64 index tensor or a bool mask. */
  public static void put(Tensor t, Tensor idx, double value) {
    t.index_put_(new TensorIndexVector(new TensorIndex(idx)), new Scalar(value));
  }

  /** {@code t[idx] = values} in place. */
  public static void put(Tensor t, Tensor idx, Tensor values) {
    t.index_put_(new TensorIndexVector(new TensorIndex(idx)), values);
  }

  /** {@code torch.where(mask)}: one int64 index tensor per dimension, row-major order. */
  public static Tensor[] where(Tensor mask) {
    TensorVector v = torch.where(mask);
    Tensor[] out = new Tensor[(int) v.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = v.get(i);
    }
    return out;
  }

  /** {@code torch.cat(ts, dim)}. */
  public static Tensor cat(long dim, Tensor... ts) {
    return torch.cat(new TensorVector(ts), dim);
  }

  /** {@code torch.stack(ts, dim)}. */
  public static Tensor stack(long dim, Tensor... ts) {
    return torch.stack(new TensorVector(ts), dim);
  }

  /** {@code torch.unique(t, sorted=True, return_inverse=True, return_counts=True)} of a 1-D tensor. */
  public static Tensor[] unique(Tensor t) {
    org.bytedeco.pytorch.T_TensorTensorTensor_T u = torch.unique_dim(t, 0, true, true, true);
    return new Tensor[] {u.get0(), u.get1(), u.get2()};
  }

  /** Length of the first dimension ({@code len(t)} in Python). */
  public static long len(Tensor t) {
    return t.dim() == 0 ? 1 : t.size(0);
  }

  // ---------------------------------------------------------------- PML's finite sentinels

  /** {@code torch.finfo(dtype).max}: PML's "+inf" (it never uses real infinities). */
  public static double posInf(ScalarType dtype) {
    return switch (dtype) {
      case Float -> Float.MAX_VALUE;
      case Double -> Double.MAX_VALUE;
      case Half -> 65504.0;
      case BFloat16 -> 3.3895313892515355e38;
      default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
    };
  }

  /** {@code torch.finfo(dtype).min}. */
  public static double negInf(ScalarType dtype) {
    return -posInf(dtype);
  }

  /** {@code torch.finfo(dtype).tiny}: the smallest positive normal number. */
  public static double smallVal(ScalarType dtype) {
    return switch (dtype) {
      case Float -> Float.MIN_NORMAL;
      case Double -> Double.MIN_NORMAL;
      case Half -> 6.103515625e-05;
      case BFloat16 -> 1.1754943508222875e-38;
      default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
    };
  }

  /**
   * The dtype of {@code t} as the canonical enum constant. JavaCPP returns enum values from native code as fresh
   * instances; compare only interned ones (this method), never {@code t.scalar_type()} directly.
   */
  public static ScalarType dtype(Tensor t) {
    return t.scalar_type().intern();
  }

  /** Whether the dtype is a floating type (float32, float64, float16 or bfloat16). */
  public static boolean isFloating(ScalarType dtype) {
    return dtype == ScalarType.Float || dtype == ScalarType.Double || dtype == ScalarType.Half
        || dtype == ScalarType.BFloat16;
  }

  /**
   * The one check of an embedding-like matrix at pml4j's public API (losses, miners, distances, regularizers): not
   * null, 2-D, float32 or float64. float16 and bfloat16 are refused: LibTorch's CPU kernels pml4j relies on (cdist
   * among them) do not implement them, and PML's numbers are defined in float32/float64.
   *
   * @param t the tensor
   * @param name the argument's name, used in the message
   * @return {@code t}
   * @throws IllegalArgumentException naming {@code name} and what is wrong
   */
  public static Tensor requireFloatMatrix(Tensor t, String name) {
    if (t == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    if (t.dim() != 2) {
      throw new IllegalArgumentException(
          name + " must be a 2D tensor of shape (batch_size, embedding_size), got shape " + shapeString(t));
    }
    ScalarType dtype = dtype(t);
    if (dtype != ScalarType.Float && dtype != ScalarType.Double) {
      throw new IllegalArgumentException(name + " must be float32 or float64, got " + dtype);
    }
    return t;
  }

  /**
   * Checks that two inputs computed together have the same dtype (LibTorch would fail with "expected scalar type").
   *
   * @throws IllegalArgumentException naming both arguments and their dtypes
   */
  public static void requireSameDtype(Tensor a, String aName, Tensor b, String bName) {
    if (dtype(a) != dtype(b)) {
      throw new IllegalArgumentException(aName + " and " + bName + " differ in dtype: " + dtype(a) + " vs " + dtype(b));
    }
  }
}
