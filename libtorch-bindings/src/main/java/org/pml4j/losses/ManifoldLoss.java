package org.pml4j.losses;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;
import org.pml4j.validation.Inputs;

/**
 * PML's {@code ManifoldLoss} (Aziere and Todorovic, CVPR 2019, "Ensemble Deep Manifold Similarity Learning using Hard
 * Proxies"): embeddings and {@code K} learnable proxies form a graph whose random-walk similarity replaces the raw
 * similarity.
 *
 * <p>On the {@code N + K} nodes (embeddings, then proxies): {@code S = exp(clamp(sim, 0) / 0.5)} with a zero diagonal,
 * {@code S' = D^-1/2 S D^-1/2} with {@code D} the row sums, and {@code F = (1 - alpha) * inv(I - alpha * S')}. The
 * intrinsic loss compares, per embedding i with proxy {@code m = metaClasses[i]}, its manifold similarity to every
 * other proxy j with the one to its own: {@code log(1 + sum_{j != m, F_ij - F_im + margin >= 0} exp(F_ij - F_im +
 * margin))}, averaged over i. The context loss does the same with the cosine similarity of i's row of F to each
 * proxy's row. Loss = {@code intrinsic + lambdaC * context}.
 *
 * <p>Call it with {@link #forwardMetaClasses(Tensor, Tensor)}: {@code metaClasses[i]} in {@code [0, K)} is the proxy
 * assigned to row i (PML passes it as {@code indices_tuple}). Through the generic {@code forward} (no meta classes)
 * they are drawn at random as in PML: every proxy once, the remaining {@code N - K} rows uniformly, shuffled (needs
 * {@code N >= K}). Labels and a reference set are not supported.
 *
 * <p>As in PML the inverse is computed in float32 even for float64 inputs, and {@code lambdaC = +Infinity} gives
 * {@code 0 + Infinity * context} (PML's value; not a context-only loss). Learnable parameter: {@code proxies}
 * {@code [K, l]}, initialised with {@code randn}. Default distance: {@link CosineSimilarity}; default reducer:
 * MeanReducer (the loss is already reduced).
 */
public class ManifoldLoss extends BaseWeightLoss implements MetaClassLoss {
  private final int l;
  private final int k;
  private final double lambdaC;
  private final double alpha;
  private final double margin;

  /** PML's default {@code K}: proxies. */
  public static final int DEFAULT_K = 50;
  /** PML's default {@code lambdaC}: the contrast weight; infinite is allowed. */
  public static final double DEFAULT_LAMBDA_C = 1.0;
  /** PML's default {@code alpha}: the random-walk weight. */
  public static final double DEFAULT_ALPHA = 0.8;
  /** PML's default {@code margin}. */
  public static final double DEFAULT_MARGIN = 5e-4;

  /**
   * PML's defaults for embedding size {@code l}: {@link #DEFAULT_K}, {@link #DEFAULT_LAMBDA_C}, {@link #DEFAULT_ALPHA},
   * {@link #DEFAULT_MARGIN}.
   */
  public ManifoldLoss(int l) {
    this(l, DEFAULT_K, DEFAULT_LAMBDA_C, DEFAULT_ALPHA, DEFAULT_MARGIN, LossOptions.defaults());
  }

  /**
   * @param l embedding size
   * @param k number of proxies
   * @param lambdaC weight of the context loss (&gt;= 0)
   * @param alpha random-walk parameter in (0, 1): how much similarity each node passes on to its neighbours
   * @param margin margin of both losses
   * @param options distance (default CosineSimilarity), reducer, embedding regularizer
   * @throws IllegalArgumentException for {@code lambdaC < 0} or non-positive sizes
   */
  public ManifoldLoss(int l, int k, double lambdaC, double alpha, double margin, LossOptions options) {
    super(options);
    if (lambdaC < 0 || Double.isNaN(lambdaC)) {
      throw new IllegalArgumentException("Incorrect value for lambdaC argument. Given lambdaC=" + lambdaC
          + " but accepted only non-negative values");
    }
    if (l < 1 || k < 1) {
      throw new IllegalArgumentException("l and K must be >= 1, got l=" + l + ", K=" + k);
    }
    this.l = l;
    this.k = k;
    this.lambdaC = lambdaC;
    this.alpha = alpha;
    this.margin = margin;
    try (NoGradGuard g = new NoGradGuard()) {
      registerParameter("proxies", torch.randn(k, l));
    }
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  /**
   * The loss with the given proxy assignment.
   *
   * @param embeddings {@code [N, l]}
   * @param metaClasses {@code [N]} integer proxy ids in {@code [0, K)}, or null to draw them at random
   * @throws IllegalArgumentException on bad shapes or ids
   */
  @Override
  public Tensor forwardMetaClasses(Tensor embeddings, Tensor metaClasses) {
    Inputs in = Inputs.validate(embeddings, null, null, null, null);
    LossDict dict = in.embeddings().size(0) == 0 ? zeroLosses() : manifold(in.embeddings(), metaClasses);
    addEmbeddingRegularization(dict, in.embeddings());
    return reducer.forward(dict, in.embeddings(), null);
  }

  @Override
  protected LossDict computeLoss(Tensor embeddings, Tensor labels, IndicesTuple indicesTuple, Tensor refEmb,
      Tensor refLabels) {
    refNotSupported(embeddings, labels, refEmb, refLabels);
    if (labels != null || refLabels != null) {
      throw new IllegalArgumentException("labels are ref_labels are not supported for this loss function");
    }
    if (indicesTuple != null) {
      throw new IllegalArgumentException("ManifoldLoss takes a per-row proxy id (meta classes), not a mined tuple: "
          + "call forwardMetaClasses(embeddings, metaClasses)");
    }
    return manifold(embeddings, null);
  }

  private LossDict manifold(Tensor embeddings, Tensor metaClasses) {
    if (embeddings.size(1) != l) {
      throw new IllegalArgumentException("ManifoldLoss was built for embeddings of size l=" + l + ", got "
          + embeddings.size(1));
    }
    long n = embeddings.size(0);
    Tensor meta = metaClasses == null ? randomMetaClasses(n, embeddings) : checkMeta(metaClasses, embeddings);
    ScalarType dt = Tensors.dtype(embeddings);
    Tensor proxies = param("proxies");
    if (Tensors.dtype(proxies) != dt || !proxies.device().equals(embeddings.device())) {
      proxies = proxies.to(embeddings.device(), dt);
    }
    long total = n + k;
    Tensor nodes = Tensors.cat(0, embeddings, proxies);
    Tensor s = distance.forward(nodes, nodes).clamp_min(Tensors.s(0.0));
    s = torch.exp(s.div(Tensors.s(0.5)));
    Tensor y = torch.eye(total, Tensors.options(dt, embeddings));
    s = s.sub(s.mul(y));

    Tensor dInvHalf = torch.diag(s.sum(1).pow(Tensors.s(-0.5)));
    Tensor sBar = dInvHalf.mm(s).mm(dInvHalf);
    // PML inverts in float32 whatever the input dtype.
    Tensor lInv = torch.linalg_inv(y.to(ScalarType.Float).sub(sBar.to(ScalarType.Float).mul(Tensors.s(alpha))))
        .to(dt);
    Tensor f = lInv.mul(Tensors.s(1 - alpha));
    Tensor fP = f.narrow(0, n, k);
    Tensor fE = f.narrow(0, 0, n);
    Tensor own = meta.view(-1, 1).eq(Tensors.arange(k, meta).view(1, -1)); // [N, K] one-hot of the own proxy
    Tensor metaCol = meta.view(-1, 1);

    Tensor lossInt = Tensors.zeros(embeddings, 1);
    if (lambdaC != Double.POSITIVE_INFINITY) {
      Tensor fi = fE.narrow(1, n, k);
      Tensor li = fi.sub(fi.gather(1, metaCol)).add(Tensors.s(margin));
      lossInt = logOnePlusSumExp(li, own).mean();
    }
    Tensor ctx = torch.cosine_similarity(fE, fP.unsqueeze(1), -1, 1e-8).t();
    ctx = ctx.add(ctx.gather(1, metaCol).neg().add(Tensors.s(margin)));
    Tensor lossCtx = logOnePlusSumExp(ctx, own).mean();
    Tensor loss = lossInt.add(lossCtx.mul(Tensors.s(lambdaC)));
    return LossDict.of("loss", LossInfo.reduced(loss));
  }

  /**
   * {@code log(1 + sum_j exp(x_ij))} per row over the entries that are not the own proxy and not negative (PML sets
   * the others to -inf before the exp).
   */
  private static Tensor logOnePlusSumExp(Tensor x, Tensor own) {
    Tensor drop = own.logical_or(x.lt(Tensors.s(0.0)));
    Tensor e = torch.exp(x.masked_fill(drop, Tensors.s(Double.NEGATIVE_INFINITY)));
    return torch.log(e.sum(1).add(Tensors.s(1.0)));
  }

  private Tensor randomMetaClasses(long n, Tensor like) {
    if (n < k) {
      throw new IllegalArgumentException("ManifoldLoss draws every one of its K=" + k + " proxies once, so the batch "
          + "needs at least K rows, got " + n + "; pass meta classes explicitly");
    }
    Tensor rest = torch.randint(0L, (long) k, new long[] {n - k}, new TensorOptions(ScalarType.Long));
    Tensor all = Tensors.cat(0, torch.arange(Tensors.s((long) k)), rest);
    return Tensors.index(all, torch.randperm(n)).to(like.device(), ScalarType.Long);
  }

  private Tensor checkMeta(Tensor meta, Tensor embeddings) {
    if (meta.dim() != 1 || meta.size(0) != embeddings.size(0)) {
      throw new IllegalArgumentException("meta_classes must be a 1D tensor with one proxy id per embedding ("
          + embeddings.size(0) + "), got shape " + Tensors.shapeString(meta));
    }
    if (meta.is_floating_point() || Tensors.dtype(meta) == ScalarType.Bool) {
      throw new IllegalArgumentException("meta_classes must be an integer tensor, got " + Tensors.dtype(meta));
    }
    Tensor m = meta.to(embeddings.device(), ScalarType.Long);
    if (m.numel() > 0) {
      long lo = m.min().item_long();
      long hi = m.max().item_long();
      if (lo < 0 || hi >= k) {
        throw new IllegalArgumentException("meta_classes must lie in [0, K=" + k + "), got values in [" + lo + ", "
            + hi + "]");
      }
    }
    return m;
  }

  /** The embedding size. */
  public int l() {
    return l;
  }

  /** The number of proxies. */
  public int k() {
    return k;
  }

  public double lambdaC() {
    return lambdaC;
  }

  public double alpha() {
    return alpha;
  }

  public double margin() {
    return margin;
  }

  /**
   * Registry factory: {@code l} (required), {@code K}, {@code lambdaC}, {@code alpha}, {@code margin}, common kwargs.
   */
  public static ManifoldLoss fromSpec(Params p) {
    Integer l = p.getIntOrNull("l");
    if (l == null) {
      throw new IllegalArgumentException("ManifoldLoss requires the embedding size 'l'");
    }
    return new ManifoldLoss(l, p.getInt("K", DEFAULT_K), p.getDoubleOrInf("lambdaC", DEFAULT_LAMBDA_C),
        p.getDouble("alpha", DEFAULT_ALPHA), p.getDouble("margin", DEFAULT_MARGIN), LossOptions.fromSpec(p, false));
  }
}
