package org.pml4j.tuples;

import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/**
 * Mined indices as PML passes them around: pairs {@code (a1, p, a2, n)} or triplets {@code (a, p, n)}, each a 1-D
 * int64 tensor. Anchors index the query embeddings; positives and negatives index the reference embeddings (the batch
 * itself when there is no separate reference).
 */
public final class IndicesTuple {
  private final Tensor[] parts;

  private IndicesTuple(Tensor... parts) {
    for (Tensor t : parts) {
      Objects.requireNonNull(t, "index tensor");
      if (t.dim() != 1) {
        throw new IllegalArgumentException("indices must be 1-D, got shape " + Tensors.shapeString(t));
      }
    }
    this.parts = parts;
  }

  /** Pairs: positive pairs {@code (a1[i], p[i])} and negative pairs {@code (a2[j], n[j])}. */
  public static IndicesTuple pairs(Tensor a1, Tensor p, Tensor a2, Tensor n) {
    IndicesTuple t = new IndicesTuple(a1, p, a2, n);
    if (Tensors.len(a1) != Tensors.len(p) || Tensors.len(a2) != Tensors.len(n)) {
      throw new IllegalArgumentException("pairs tuple lengths differ: a1=" + Tensors.len(a1) + " p=" + Tensors.len(p)
          + " a2=" + Tensors.len(a2) + " n=" + Tensors.len(n));
    }
    return t;
  }

  /** Triplets {@code (a[i], p[i], n[i])}. */
  public static IndicesTuple triplets(Tensor a, Tensor p, Tensor n) {
    IndicesTuple t = new IndicesTuple(a, p, n);
    if (Tensors.len(a) != Tensors.len(p) || Tensors.len(a) != Tensors.len(n)) {
      throw new IllegalArgumentException("triplet tuple lengths differ: a=" + Tensors.len(a) + " p=" + Tensors.len(p)
          + " n=" + Tensors.len(n));
    }
    return t;
  }

  /** Pairs or triplets, by the number of tensors (4 or 3). */
  public static IndicesTuple of(Tensor... parts) {
    return switch (parts.length) {
      case 3 -> triplets(parts[0], parts[1], parts[2]);
      case 4 -> pairs(parts[0], parts[1], parts[2], parts[3]);
      default -> throw new IllegalArgumentException(
          "an indices tuple has 3 (triplets) or 4 (pairs) tensors, got " + parts.length);
    };
  }

  /** Pairs or triplets from Java arrays. */
  public static IndicesTuple of(long[]... parts) {
    Tensor[] t = new Tensor[parts.length];
    for (int i = 0; i < parts.length; i++) {
      t[i] = Tensors.longs(parts[i]);
    }
    return of(t);
  }

  public boolean isPairs() {
    return parts.length == 4;
  }

  public boolean isTriplets() {
    return parts.length == 3;
  }

  /** Number of tensors: 3 or 4. */
  public int size() {
    return parts.length;
  }

  public Tensor get(int i) {
    return parts[i];
  }

  /** A copy of the tensors. */
  public Tensor[] tensors() {
    return parts.clone();
  }

  /** Number of triplets, or of positive pairs for a pairs tuple. */
  public long firstLength() {
    return Tensors.len(parts[0]);
  }

  /** The tuple moved to the device of {@code like}, as int64. */
  public IndicesTuple to(Tensor like) {
    Tensor[] t = new Tensor[parts.length];
    for (int i = 0; i < t.length; i++) {
      t[i] = parts[i].to(like.device(), org.bytedeco.pytorch.global.torch.ScalarType.Long);
    }
    return new IndicesTuple(t);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(isPairs() ? "pairs(" : "triplets(");
    for (int i = 0; i < parts.length; i++) {
      sb.append(i == 0 ? "" : ", ").append(Arrays.toString(Tensors.toLongs(parts[i])));
    }
    return sb.append(')').toString();
  }
}
