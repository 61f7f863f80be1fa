package org.pml4j.distances;

import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * PML's {@code BaseDistance}: an (optionally Lp-normalized) distance or similarity matrix between query and reference
 * rows, raised to {@code power}. Similarities are "inverted" distances: larger means closer, and the helpers
 * {@link #margin}, {@link #smallestDist} and {@link #largestDist} flip accordingly.
 */
public abstract class BaseDistance {
  static {
    Torch.ensureLoaded();
  }

  /** PML's default {@code normalize_embeddings} of every distance: rows are Lp-normalized. */
  public static final boolean DEFAULT_NORMALIZE_EMBEDDINGS = true;
  /** PML's default {@code p} of every distance: the L2 norm. */
  public static final double DEFAULT_P = 2;
  /** PML's default {@code power} of every distance: the matrix as computed. */
  public static final double DEFAULT_POWER = 1;

  protected final boolean normalizeEmbeddings;
  protected final double p;
  protected final double power;
  protected final boolean isInverted;

  /**
   * @param normalizeEmbeddings Lp-normalize rows (with this distance's {@code p}) before computing the matrix
   * @param p the norm's order
   * @param power exponent applied to the matrix after it is computed
   * @param isInverted true for similarities (larger = closer)
   */
  protected BaseDistance(boolean normalizeEmbeddings, double p, double power, boolean isInverted) {
    if (!(p > 0) || Double.isNaN(p)) {
      throw new IllegalArgumentException("p must be > 0, got " + p);
    }
    this.normalizeEmbeddings = normalizeEmbeddings;
    this.p = p;
    this.power = power;
    this.isInverted = isInverted;
  }

  /** The distance matrix of the query with itself. */
  public Tensor forward(Tensor queryEmb) {
    return forward(queryEmb, null);
  }

  /**
   * The {@code [Nq, Nr]} matrix between query rows and reference rows ({@code refEmb == null}: the query itself).
   *
   * @throws IllegalArgumentException if an input is null, not 2-D, not float32/float64, or the two differ in width or
   *     dtype
   */
  public Tensor forward(Tensor queryEmb, Tensor refEmb) {
    checkShapes(queryEmb, refEmb);
    Tensor q = maybeNormalize(queryEmb);
    Tensor r = refEmb == null ? q : maybeNormalize(refEmb);
    Tensor mat = computeMat(q, r);
    if (power != 1) {
      mat = mat.pow(Tensors.s(power));
    }
    return mat;
  }

  /** The matrix of already-normalized inputs. */
  protected abstract Tensor computeMat(Tensor queryEmb, Tensor refEmb);

  /**
   * Row-wise distance between {@code query[i]} and {@code ref[i]}, without normalization or power.
   *
   * @throws IllegalArgumentException unless both are float32/float64 matrices of one shape and dtype
   */
  public abstract Tensor pairwiseDistance(Tensor queryEmb, Tensor refEmb);

  /** Element-wise "closest" of two tensors: min for distances, max for similarities. */
  public Tensor smallestDist(Tensor a, Tensor b) {
    return isInverted ? torch.maximum(a, b) : torch.minimum(a, b);
  }

  /** Element-wise "farthest" of two tensors. */
  public Tensor largestDist(Tensor a, Tensor b) {
    return isInverted ? torch.minimum(a, b) : torch.maximum(a, b);
  }

  /** How much {@code x} is farther than {@code y}: {@code x - y} for distances, {@code y - x} for similarities. */
  public Tensor margin(Tensor x, Tensor y) {
    return isInverted ? y.sub(x) : x.sub(y);
  }

  /** {@code margin(x, y)} with a scalar {@code y}. */
  public Tensor margin(Tensor x, double y) {
    return isInverted ? torch.rsub(x, Tensors.s(y)) : x.sub(Tensors.s(y));
  }

  /** {@code margin(x, y)} with a scalar {@code x}. */
  public Tensor margin(double x, Tensor y) {
    return isInverted ? y.sub(Tensors.s(x)) : torch.rsub(y, Tensors.s(x));
  }

  /** {@code F.normalize(x, p=this.p, dim)}: {@code x / max(||x||_p, 1e-12)}. */
  public Tensor normalize(Tensor embeddings, long dim) {
    Tensor norm = embeddings.norm(new ScalarOptional(Tensors.s(p)), new long[] {dim}, true);
    return embeddings.div(norm.clamp_min(Tensors.s(1e-12)).expand_as(embeddings));
  }

  /** Row-wise {@link #normalize(Tensor, long)} when this distance normalizes embeddings, else the input. */
  public Tensor maybeNormalize(Tensor embeddings) {
    return normalizeEmbeddings ? normalize(embeddings, 1) : embeddings;
  }

  /** Row-wise Lp norms. */
  public Tensor getNorm(Tensor embeddings) {
    return embeddings.norm(new ScalarOptional(Tensors.s(p)), new long[] {1}, false);
  }

  /**
   * The input check of {@link #forward(Tensor, Tensor)}: {@code query_emb} (and {@code ref_emb} when given) non-null,
   * 2-D, float32 or float64, of one dtype and width.
   *
   * @throws IllegalArgumentException naming the argument and what is wrong
   */
  protected void checkShapes(Tensor queryEmb, Tensor refEmb) {
    Tensors.requireFloatMatrix(queryEmb, "query_emb");
    if (refEmb != null) {
      Tensors.requireFloatMatrix(refEmb, "ref_emb");
      if (refEmb.size(1) != queryEmb.size(1)) {
        throw new IllegalArgumentException("query_emb and ref_emb differ in width: "
            + queryEmb.size(1) + " vs " + refEmb.size(1));
      }
      Tensors.requireSameDtype(queryEmb, "query_emb", refEmb, "ref_emb");
    }
  }

  /**
   * The input check of {@link #pairwiseDistance}: two non-null float32/float64 matrices of one shape and dtype.
   *
   * @throws IllegalArgumentException naming the argument and what is wrong
   */
  protected static void checkPairwise(Tensor queryEmb, Tensor refEmb) {
    Tensors.requireFloatMatrix(queryEmb, "query_emb");
    Tensors.requireFloatMatrix(refEmb, "ref_emb");
    if (!java.util.Arrays.equals(Tensors.shape(queryEmb), Tensors.shape(refEmb))) {
      throw new IllegalArgumentException("pairwise distance needs query_emb and ref_emb of one shape (row i with row "
          + "i), got " + Tensors.shapeString(queryEmb) + " and " + Tensors.shapeString(refEmb));
    }
    Tensors.requireSameDtype(queryEmb, "query_emb", refEmb, "ref_emb");
  }

  public boolean normalizeEmbeddings() {
    return normalizeEmbeddings;
  }

  public double p() {
    return p;
  }

  public double power() {
    return power;
  }

  /** True for similarities (larger = closer). */
  public boolean isInverted() {
    return isInverted;
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(normalizeEmbeddings=" + normalizeEmbeddings + ", p=" + p + ", power=" + power
        + ")";
  }

}
