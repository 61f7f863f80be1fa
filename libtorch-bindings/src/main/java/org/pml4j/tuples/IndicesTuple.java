package org.pml4j.tuples;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.Supplier;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/**
 * Mined indices as PML passes them around: pairs {@code (a1, p, a2, n)} or triplets {@code (a, p, n)}, each a 1-D
 * int64 tensor. Anchors index the query embeddings; positives and negatives index the reference embeddings (the batch
 * itself when there is no separate reference).
 */
public final class IndicesTuple {
  /** The index tensors; for a tuple made from pair masks, null until something asks for them. */
  private Tensor[] parts;
  /** Bool {@code [N, M]} masks of the positive and the negative pairs, or null. */
  private final Tensor[] masks;
  /** Makes the index tensors of a tuple made from masks, in the order the miner defines. */
  private final Supplier<Tensor[]> ordered;

  private IndicesTuple(Tensor... parts) {
    checkParts(parts);
    this.parts = parts;
    this.masks = null;
    this.ordered = null;
  }

  private IndicesTuple(Tensor posMask, Tensor negMask, Supplier<Tensor[]> ordered) {
    this.masks = new Tensor[] {posMask, negMask};
    this.ordered = ordered;
  }

  private static void checkParts(Tensor[] parts) {
    for (Tensor t : parts) {
      Objects.requireNonNull(t, "index tensor");
      if (t.dim() != 1) {
        throw new IllegalArgumentException("indices must be 1-D, got shape " + Tensors.shapeString(t));
      }
    }
  }

  /**
   * Pairs given by bool {@code [N, M]} masks of the positive and the negative pairs, with their index tensors made
   * only when asked for ({@code ordered}, in the order the miner defines: PML's order, which losses that only need the
   * set of pairs never ask for). A mat-based pair loss ({@code GenericPairLoss} with {@code mat_based_loss}, e.g.
   * MultiSimilarityLoss) reads the masks directly, so a miner's O(N M) pairs are never sorted nor materialised as
   * int64 indices; everything else sees the same tuple as ever. The masks and the indices must describe the same
   * pairs.
   *
   * @throws IllegalArgumentException when a mask is null, not bool, or the two differ in shape
   */
  public static IndicesTuple pairsFromMasks(Tensor posMask, Tensor negMask, Supplier<Tensor[]> ordered) {
    if (posMask == null || negMask == null || ordered == null) {
      throw new IllegalArgumentException("pair masks and their ordered indices are required");
    }
    if (Tensors.dtype(posMask) != ScalarType.Bool || Tensors.dtype(negMask) != ScalarType.Bool
        || posMask.dim() != 2 || !java.util.Arrays.equals(Tensors.shape(posMask), Tensors.shape(negMask))) {
      throw new IllegalArgumentException("pair masks must be bool [N, M] of one shape, got "
          + Tensors.dtype(posMask) + " " + Tensors.shapeString(posMask) + " and " + Tensors.dtype(negMask) + " "
          + Tensors.shapeString(negMask));
    }
    return new IndicesTuple(posMask, negMask, ordered);
  }

  /** The bool {@code [N, M]} masks of the positive and the negative pairs for a tuple made from masks, else null. */
  public Tensor[] pairMasks() {
    return masks == null ? null : masks.clone();
  }

  private Tensor[] parts() {
    if (parts == null) {
      Tensor[] t = ordered.get();
      checkParts(t);
      if (t.length != 4 || Tensors.len(t[0]) != Tensors.len(t[1]) || Tensors.len(t[2]) != Tensors.len(t[3])) {
        throw new IllegalStateException("a pairs tuple made from masks produced a malformed tuple");
      }
      parts = t;
    }
    return parts;
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
    return size() == 4;
  }

  public boolean isTriplets() {
    return size() == 3;
  }

  /** Number of tensors: 3 or 4. */
  public int size() {
    return masks != null ? 4 : parts.length;
  }

  public Tensor get(int i) {
    return parts()[i];
  }

  /** A copy of the tensors. */
  public Tensor[] tensors() {
    return parts().clone();
  }

  /** Number of triplets, or of positive pairs for a pairs tuple. */
  public long firstLength() {
    return masks != null && parts == null ? masks[0].sum().item_long() : Tensors.len(parts()[0]);
  }

  /** The tuple moved to the device of {@code like}, as int64 (a tuple made from masks stays one). */
  public IndicesTuple to(Tensor like) {
    if (masks != null) {
      // a tuple made from masks stays one, whether or not its indices were asked for already
      if (masks[0].device().str().getString().equals(like.device().str().getString())) {
        return this;
      }
      Supplier<Tensor[]> source = ordered;
      return new IndicesTuple(masks[0].to(like.device(), ScalarType.Bool), masks[1].to(like.device(), ScalarType.Bool),
          () -> moved(source.get(), like));
    }
    return new IndicesTuple(moved(parts, like));
  }

  private static Tensor[] moved(Tensor[] parts, Tensor like) {
    Tensor[] t = new Tensor[parts.length];
    for (int i = 0; i < t.length; i++) {
      t[i] = parts[i].to(like.device(), ScalarType.Long);
    }
    return t;
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(isPairs() ? "pairs(" : "triplets(");
    Tensor[] p = parts();
    for (int i = 0; i < p.length; i++) {
      sb.append(i == 0 ? "" : ", ").append(Arrays.toString(Tensors.toLongs(p[i])));
    }
    return sb.append(')').toString();
  }
}
