package org.pml4j.losses;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_full;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.distances.DotProductSimilarity;
import org.pml4j.distances.LpDistance;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.MeanReducer;
import org.pml4j.reducers.ThresholdReducer;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Parallel;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;

/**
 * The fused dense {@link ContrastiveLoss} over all pairs, tiled over the reference columns so that the {@code [N, M]}
 * matrix goes through memory twice (written once, read once) instead of being produced, rewritten and reread by
 * separate whole-matrix steps.
 *
 * <p>Two passes over column tiles of {@code T} columns ({@link #tileColumns}: a {@code [N, T]} tile of about 1 MB,
 * so it stays in a core's cache between the steps that touch it):
 * <ol>
 *   <li>per tile, one GEMM of the (normalized) queries and the tile's reference rows writes the tile's dot products
 *       into the {@code [N, M]} matrix; a Java pass over the tile, on {@link Torch#kernelThreads()} threads (rows
 *       split among them), turns them into distances (LpDistance: cdist's formula for large inputs,
 *       {@code sqrt(max(|q|^2 + |r|^2 - 2 q.r, 1e-30))}, which agrees with cdist to rounding), accumulates both
 *       sub-losses' counts, kept counts and sums and the gradient row sums, and stores each pair's unscaled gradient
 *       weight in place of its dot product (the two sub-losses' weights have opposite signs);</li>
 *   <li>once the reducers' scales are known (they need the global counts), per tile a branch-free Java pass scales
 *       the stored weights by their sub-loss's scale into a tile buffer that stays in cache, and one GEMM adds the
 *       tile's share {@code W_tile r_tile} to the query gradient (and, when the reference set needs a gradient, one
 *       GEMM writes that tile's rows of it).</li>
 * </ol>
 * Without a gradient the second pass is skipped and the matrix is never stored (each tile goes to the tile buffer).
 * The GEMMs run on OpenBLAS's threads (pml4j's Java pool, see {@link Torch#setNumThreads}). A reference set without
 * a gradient (a memory bank) is normalized on the kernel threads too.
 *
 * <p>For {@code LpDistance(p=2, power=1)} with {@code d_ij = ||q_i - r_j||}: {@code dL/dq_i = q_i sum_j W_ij -
 * sum_j W_ij r_j} with {@code W = G / d} ({@code G = dL/dd}, 0 where {@code d = 0}, as cdist's backward); for
 * {@code DotProductSimilarity}/{@code CosineSimilarity} with power 1, {@code dL/dq = G r}. {@code q}, {@code r} are
 * the (normalized) embeddings, whose normalization stays on the autograd graph. The returned loss is
 * {@code value + (sum(q * g) - sum(q.detach() * g))} with {@code g} the detached gradient: the value exactly, the
 * first-order gradient exactly (up to summation order); it has no second derivative (create_graph is not supported
 * on this path). Values per element replicate ATen's arithmetic in the tensor's dtype (margins, relu, the reducer's
 * thresholds); sums are accumulated in double.
 */
final class DenseContrastive {
  /**
   * Target bytes of one {@code [N, T]} tile: 1 MiB (a core's L2 cache here), or the system property
   * {@code pml4j.dense.tileBytes} (for measurements).
   */
  private static final long TILE_BYTES = Long.getLong("pml4j.dense.tileBytes", 1L << 20);

  /** Tile width forced by tests (0: {@link #tileColumns}'s choice). */
  static int tileOverride;

  /**
   * The {@code [N, M]} matrix and the normalized reference of each calling thread, kept between calls: a fresh
   * matrix of tens of MB every step cost a page fault per 4 KB page on its first write (large allocations come
   * straight from mmap), about a third of the first GEMM's time. Each grows to the largest size the thread has used
   * and stays there (a step's memory stays flat); it is freed with the thread's owner when the thread's last
   * reference goes.
   */
  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  /** One thread's reused buffers: the {@code [N, M]} matrix and the normalized reference. */
  private static final class Scratch {
    private final Owner owner = new Owner();
    private final Tensor[] flat = new Tensor[2];

    /**
     * An uninitialized {@code [rows, cols]} matrix of {@code like}'s dtype in buffer {@code slot}, valid until this
     * thread's next call.
     */
    Tensor matrix(int slot, int rows, int cols, Tensor like) {
      long need = (long) rows * cols;
      Tensor f = flat[slot];
      if (f == null || Tensors.dtype(f) != Tensors.dtype(like) || f.numel() < need) {
        f = owner.replace(f, torch.empty(new long[] {Math.max(need, 1)}, Tensors.options(Tensors.dtype(like), like),
            null));
        flat[slot] = f;
      }
      return f.narrow(0, 0, need).view(rows, cols);
    }
  }

  private DenseContrastive() {}

  /**
   * A memory bank's rows as {@code F.normalize(bank, p=2, dim=1)} computes them, with each normalized row's squared
   * norm, kept across calls by the bank's owner ({@link CrossBatchMemory}): the owner reports each write of slots
   * ({@link #written}), and the next use normalizes only those rows again (a batch of rows instead of the whole bank:
   * about 3.8 ms of a 50 ms step at memory 16,384, 13 ms at 65,536). Any change it was not told of — another in-place
   * write, a new tensor, another dtype — shows in the tensor's identity or version counter and makes the next use
   * normalize every row. The arithmetic is per row, so the result is bit-identical to normalizing the whole bank.
   * Not thread-safe: one owner's calls come one at a time.
   */
  static final class BankNorms {
    private final Owner owner;
    /** The bank tensor the cache describes (identity), its version counter when last brought up to date. */
    private Tensor bank;
    private long version = -1;
    /** Every row must be normalized again at the next use. */
    private boolean whole = true;
    /** Slots written since the last use (may repeat). */
    private int[] dirty = new int[256];
    private int dirtyCount;
    private Tensor normalized;
    private double[] squares;
    /** Rows normalized so far (whole banks and patches), for tests. */
    long rowsNormalized;

    /** A cache whose tensor {@code owner} owns (the bank's owner: freed with the bank). */
    BankNorms(Owner owner) {
      this.owner = owner;
    }

    /**
     * The bank's owner wrote {@code slots} of {@code bank}, whose version counter was {@code versionBefore} just
     * before the write.
     */
    void written(Tensor bank, Tensor slots, long versionBefore) {
      if (whole || bank != this.bank || versionBefore != version) {
        this.bank = bank;
        whole = true;
        dirtyCount = 0;
      } else {
        long[] s = Tensors.toLongs(slots);
        if (dirtyCount + s.length > bank.size(0) / 4) {
          whole = true;
          dirtyCount = 0;
        } else {
          if (dirtyCount + s.length > dirty.length) {
            dirty = Arrays.copyOf(dirty, Math.max(2 * dirty.length, dirtyCount + s.length));
          }
          for (long v : s) {
            dirty[dirtyCount++] = (int) v;
          }
        }
      }
      version = bank.__dispatch__version();
    }

    /**
     * The owner's current bank, before each call that may use the cache: a tensor other than the one described (the
     * queue was reset, restored or moved to another dtype; the old one may be freed) makes the next use normalize
     * every row.
     */
    void attach(Tensor bank) {
      if (bank != this.bank) {
        this.bank = bank;
        whole = true;
        dirtyCount = 0;
      }
    }

    /** Forgets everything (the owner freed the tensors). */
    void reset() {
      bank = null;
      normalized = null;
      squares = null;
      whole = true;
      dirtyCount = 0;
    }

    /**
     * Whether {@code ref} is this bank's first rows (the whole bank, or the filled prefix of one not yet wrapped),
     * contiguous, in the bank's dtype.
     */
    boolean covers(Tensor ref) {
      return bank != null && ref.dim() == 2 && bank.dim() == 2 && ref.size(1) == bank.size(1)
          && ref.size(0) <= bank.size(0) && ref.is_contiguous() && Tensors.dtype(ref) == Tensors.dtype(bank)
          && ref.is_cpu() && bank.is_cpu() && ref.data_ptr().address() == bank.data_ptr().address();
    }

    /**
     * Brings the cache up to date and returns the normalized bank ({@code [bankRows, dim]}, owned by the bank's
     * owner, valid until the next write); {@link #squares()} then holds the squared norms. Call after
     * {@link #covers}.
     */
    Tensor normalized(int threads) {
      boolean dbl = Tensors.dtype(bank) == ScalarType.Double;
      int rows = (int) bank.size(0);
      if (whole || normalized == null || bank.__dispatch__version() != version
          || Tensors.dtype(normalized) != Tensors.dtype(bank)) {
        squares = new double[rows];
        rowsNormalized += rows;
        normalized = owner.replace(normalized, normalizeRows(bank, threads, dbl, squares).clone());
      } else if (dirtyCount > 0) {
        rowsNormalized += dirtyCount;
        long[] slots = new long[dirtyCount];
        for (int i = 0; i < dirtyCount; i++) {
          slots[i] = dirty[i];
        }
        try (Scope s = Scope.open()) {
          Tensor idx = Tensors.longs(slots);
          double[] sq = new double[dirtyCount];
          normalized.index_copy_(0, idx, normalizeRows(bank.index_select(0, idx), 1, dbl, sq));
          for (int i = 0; i < dirtyCount; i++) {
            squares[dirty[i]] = sq[i];
          }
        }
      }
      whole = false;
      dirtyCount = 0;
      version = bank.__dispatch__version();
      return normalized;
    }

    /** The normalized rows' squared norms (in the dtype's values), after {@link #normalized}. */
    double[] squares() {
      return squares;
    }
  }

  /**
   * Runs of a native matrix, copied to and from Java arrays: through one direct buffer over the whole matrix (a JVM
   * memory copy per run, no JNI call) when it spans less than 2 GB, else through its pointer (a JNI call per run).
   * Safe to use from several threads at once.
   */
  private static final class Rows {
    private final FloatPointer fp;
    private final DoublePointer dp;
    private final FloatBuffer fb;
    private final DoubleBuffer db;

    Rows(Tensor t) {
      long n = t.numel();
      boolean dbl = Tensors.dtype(t) == ScalarType.Double;
      boolean fits = n * (dbl ? 8 : 4) < Integer.MAX_VALUE;
      fp = dbl ? null : t.data_ptr_float();
      dp = dbl ? t.data_ptr_double() : null;
      fb = dbl || !fits ? null : new FloatPointer(fp).position(0).limit(n).capacity(n).asBuffer();
      db = !dbl || !fits ? null : new DoublePointer(dp).position(0).limit(n).capacity(n).asBuffer();
    }

    void get(long at, float[] dst, int len) {
      if (fb != null) {
        fb.get((int) at, dst, 0, len);
      } else {
        new FloatPointer(fp).position(at).get(dst, 0, len);
      }
    }

    void put(long at, float[] src, int len) {
      if (fb != null) {
        fb.put((int) at, src, 0, len);
      } else {
        new FloatPointer(fp).position(at).put(src, 0, len);
      }
    }

    void get(long at, double[] dst, int len) {
      if (db != null) {
        db.get((int) at, dst, 0, len);
      } else {
        new DoublePointer(dp).position(at).get(dst, 0, len);
      }
    }

    void put(long at, double[] src, int len) {
      if (db != null) {
        db.put((int) at, src, 0, len);
      } else {
        new DoublePointer(dp).position(at).put(src, 0, len);
      }
    }
  }

  /** Nesting depth of {@link #singleThreadedBlas} across threads, and OpenBLAS's thread count before it. */
  private static int blasHolds;
  private static int blasThreadsBefore;

  /**
   * Runs {@code body} with OpenBLAS at 1 thread when {@code on}: the kernel's threads each run their own tiles' GEMMs,
   * which must not fork again (a 2-job GEMM per small tile synchronized its jobs by spinning, and on a busy machine
   * a 2-thread step took 3x the CPU time of 1). OpenBLAS's count is process-wide: concurrent callers nest, and the
   * count set before the first is restored when the last leaves; other GEMMs of the process meanwhile run on 1
   * thread.
   */
  private static void singleThreadedBlas(boolean on, Runnable body) {
    if (!on) {
      body.run();
      return;
    }
    synchronized (DenseContrastive.class) {
      if (blasHolds++ == 0) {
        blasThreadsBefore = openblas_full.openblas_get_num_threads();
        openblas_full.openblas_set_num_threads(1);
      }
    }
    try {
      body.run();
    } finally {
      synchronized (DenseContrastive.class) {
        if (--blasHolds == 0) {
          openblas_full.openblas_set_num_threads(blasThreadsBefore);
        }
      }
    }
  }

  /** Reduction of one sub-loss: 0 mean, 1 sum (Sum/Divisor), 2 threshold. */
  private record Red(int kind, Double low, Double high) {
    static Red of(BaseReducer r) {
      if (r instanceof ThresholdReducer t) {
        return new Red(2, t.low(), t.high());
      }
      return new Red(r.getClass() == MeanReducer.class ? 0 : 1, null, null);
    }
  }

  /** Whether the fused kernel handles this loss's distance and these inputs. */
  static boolean applies(ContrastiveLoss loss, Tensor embeddings, Tensor refEmb) {
    BaseDistance d = loss.distance();
    boolean lp2 = d.getClass() == LpDistance.class && d.p() == 2 && d.power() == 1;
    boolean dot = (d.getClass() == DotProductSimilarity.class || d.getClass() == CosineSimilarity.class)
        && d.power() == 1;
    ScalarType t = Tensors.dtype(embeddings);
    return (lp2 || dot) && (t == ScalarType.Float || t == ScalarType.Double) && Tensors.dtype(refEmb) == t
        && embeddings.is_cpu() && refEmb.is_cpu() && refEmb.size(0) > 0
        // zero-width embeddings have no data to view (the buffers are null): the masked path handles them as PML
        && embeddings.dim() == 2 && embeddings.size(1) > 0 && embeddings.size(0) > 0;
  }

  /**
   * Columns per tile: a {@code [n, T]} tile of about {@link #TILE_BYTES}, a multiple of 64 (at least 64), at most
   * {@code m}.
   */
  static int tileColumns(int n, int m, int elementBytes) {
    if (tileOverride > 0) {
      return Math.min(tileOverride, m);
    }
    long t = TILE_BYTES / ((long) Math.max(1, n) * elementBytes);
    t = Math.max(64, t / 64 * 64);
    return (int) Math.min(t, m);
  }

  /**
   * What every pass needs: the problem, the labels as codes and the same-label columns of each code, the norms, the
   * margins and the reducers' intervals.
   */
  private static final class Job {
    int n;
    int m;
    boolean lp2;
    boolean inverted;
    /** Query row i's label code (index into {@link #cols}). */
    int[] code;
    /** Per code, the reference columns with that label, ascending. */
    int[][] cols;
    /** Query row i's own reference column (dropped from the positives), or -1. */
    int[] self;
    /** Squared norms (LpDistance only), in the tensors' dtype's values. */
    double[] qNorm;
    double[] rNorm;
    float[] rNormF;
    double mp;
    double mn;
    Red redPos;
    Red redNeg;
  }

  private static int lowerBound(int[] a, int key) {
    int i = Arrays.binarySearch(a, key);
    return i >= 0 ? i : -i - 1;
  }

  /**
   * One thread's accumulators over its tiles (counts, sums, the unscaled gradient row sums), its current tile (the
   * per-code ranges of same-label columns, the slice of reference norms) and its scratch rows and tile buffer.
   */
  private static final class Acc {
    long cntPos;
    long cntNeg;
    long keptPos;
    long keptNeg;
    double sumPos;
    double sumNeg;
    /** Unscaled gradient row sums of the positive and negative pairs. */
    double[] rowP;
    double[] rowN;
    float[] rowF;
    float[] sameF;
    double[] rowD;
    double[] sameD;
    /** Per code, the first index in {@code job.cols[code]} at or after the current tile's first column. */
    int[] tileFrom;
    /** Per code, the first index in {@code job.cols[code]} at or after the current tile's end. */
    int[] tileTo;
    /** The current tile's slice of {@code job.rNorm} (float32: of {@code job.rNormF}), from index 0. */
    double[] rNormTile;
    float[] rNormTileF;
    /** The thread's {@code [N, T]} tile buffer. */
    Tensor buf;
    Rows bufRows;
    /** The thread's share of {@code W r} ({@code [N, dim]}). */
    Tensor acc;

    void setTile(Job job, int c0, int c1) {
      int[][] cols = job.cols;
      for (int c = 0; c < cols.length; c++) {
        tileFrom[c] = lowerBound(cols[c], c0);
        tileTo[c] = lowerBound(cols[c], c1);
      }
      if (rNormTile != null) {
        System.arraycopy(job.rNorm, c0, rNormTile, 0, c1 - c0);
      }
      if (rNormTileF != null) {
        System.arraycopy(job.rNormF, c0, rNormTileF, 0, c1 - c0);
      }
    }
  }

  /**
   * The loss dict ({@code pos_loss}, {@code neg_loss}, each already reduced, or PML's zero entries) of all pairs.
   *
   * @param selfSlots reference column of query row i itself (dropped from the positives), or null
   * @param bankNorms the normalized rows of the memory bank {@code refEmb} comes from, kept by its owner; or null
   */
  static LossDict forward(ContrastiveLoss loss, Tensor embeddings, Tensor labels, Tensor refEmb, Tensor refLabels,
      Tensor selfSlots, BankNorms bankNorms) {
    BaseDistance distance = loss.distance();
    boolean inverted = distance.isInverted();
    boolean lp2 = !inverted;
    boolean sameRef = refEmb == embeddings;
    boolean diagonal = refLabels == labels;
    boolean needGrad = GradMode.is_enabled()
        && (embeddings.requires_grad() || (!sameRef && refEmb.requires_grad()));
    boolean refGrad = needGrad && (sameRef || refEmb.requires_grad());
    int threads = Math.max(1, Torch.kernelThreads());
    boolean dbl = Tensors.dtype(embeddings) == ScalarType.Double;
    Tensor q = distance.maybeNormalize(embeddings);
    Tensor qd = q.detach();
    Tensor r;
    double[] rSquares = null;
    if (!sameRef && !refGrad && distance.normalizeEmbeddings() && distance.p() == 2) {
      // a reference without gradient (a memory bank): F.normalize on the kernel threads, in one pass that also
      // gives the normalized rows' squared norms
      try (NoGradGuard g = new NoGradGuard()) {
        if (bankNorms != null && bankNorms.covers(refEmb)) {
          r = bankNorms.normalized(threads).narrow(0, 0, refEmb.size(0));
          rSquares = bankNorms.squares();
        } else {
          rSquares = new double[(int) refEmb.size(0)];
          r = normalizeRows(refEmb.detach(), threads, dbl, rSquares);
        }
      }
    } else {
      r = sameRef ? q : distance.maybeNormalize(refEmb);
    }
    Tensor rd = r.detach().contiguous();
    int n = (int) qd.size(0);
    int m = (int) rd.size(0);
    Job job = new Job();
    job.n = n;
    job.m = m;
    job.lp2 = lp2;
    job.inverted = inverted;
    job.mp = loss.posMargin();
    job.mn = loss.negMargin();
    job.redPos = Red.of(loss.reducerFor("pos_loss"));
    job.redNeg = Red.of(loss.reducerFor("neg_loss"));
    labelCodes(job, Tensors.toLongs(labels), Tensors.toLongs(refLabels));
    job.self = new int[n];
    Arrays.fill(job.self, -1);
    if (selfSlots != null) {
      long[] s = Tensors.toLongs(selfSlots);
      for (int i = 0; i < n && i < s.length; i++) {
        job.self[i] = (int) s[i];
      }
    } else if (diagonal) {
      for (int i = 0; i < n; i++) {
        job.self[i] = i;
      }
    }
    if (lp2) {
      job.qNorm = squaredNorms(qd, n, 1, dbl);
      job.rNorm = sameRef ? job.qNorm : rSquares != null ? rSquares : squaredNorms(rd, m, threads, dbl);
      if (!dbl) {
        job.rNormF = new float[m];
        for (int j = 0; j < m; j++) {
          job.rNormF[j] = (float) job.rNorm[j];
        }
      }
    }
    int tile = tileColumns(n, m, dbl ? 8 : 4);
    int tiles = (m + tile - 1) / tile;
    Acc[] accs = new Acc[Math.max(1, Math.min(threads, tiles))];
    Tensor mat = null;
    Rows matRows = null;
    try (NoGradGuard g = new NoGradGuard()) {
      for (int c = 0; c < accs.length; c++) {
        Acc a = new Acc();
        a.rowP = new double[n];
        a.rowN = new double[n];
        a.tileFrom = new int[job.cols.length];
        a.tileTo = new int[job.cols.length];
        if (dbl) {
          a.rowD = new double[tile];
          a.rNormTile = lp2 ? new double[tile] : null;
        } else {
          a.rowF = new float[tile];
          a.rNormTileF = lp2 ? new float[tile] : null;
        }
        a.buf = torch.empty(new long[] {n, tile}, Tensors.options(Tensors.dtype(qd), qd), null);
        a.bufRows = new Rows(a.buf);
        accs[c] = a;
      }
      if (needGrad) {
        mat = SCRATCH.get().matrix(0, n, m, qd);
        matRows = new Rows(mat);
      }
    }
    Tensor matT = mat;
    Rows matR = matRows;
    // Pass 1: each thread takes a run of tiles; per tile one single-threaded GEMM of the dot products (into the
    // matrix, or the thread's tile buffer without a gradient), then the tile's rows scored while cache-hot; their
    // unscaled weights replace the dot products when a gradient follows.
    singleThreadedBlas(accs.length > 1, () -> Parallel.forRows(tiles, accs.length, (chunk, t0, t1) -> {
      Acc a = accs[chunk];
      try (Scope s = Scope.open(); NoGradGuard g = new NoGradGuard()) {
        for (int t = t0; t < t1; t++) {
          int c0 = t * tile;
          int tw = Math.min(tile, m - c0);
          Tensor out = matT != null ? matT.narrow(1, c0, tw) : a.buf.narrow(1, 0, tw);
          torch.mm_out(out, qd, rd.narrow(0, c0, tw).t());
          a.setTile(job, c0, c0 + tw);
          Rows p = matT != null ? matR : a.bufRows;
          long ld = matT != null ? m : tile;
          long off = matT != null ? c0 : 0;
          if (dbl) {
            scoreDouble(job, p, ld, off, c0, tw, 0, n, needGrad, a);
          } else {
            scoreFloat(job, p, ld, off, c0, tw, 0, n, needGrad, a);
          }
        }
      }
    }));
    Acc tot = new Acc();
    double[] rowP = new double[n];
    double[] rowN = new double[n];
    for (Acc a : accs) {
      tot.cntPos += a.cntPos;
      tot.cntNeg += a.cntNeg;
      tot.keptPos += a.keptPos;
      tot.keptNeg += a.keptNeg;
      tot.sumPos += a.sumPos;
      tot.sumNeg += a.sumNeg;
      for (int i = 0; i < n; i++) {
        rowP[i] += a.rowP[i];
        rowN[i] += a.rowN[i];
      }
    }
    if (tot.cntPos <= 1 && tot.cntNeg <= 1) {
      return loss.zeroLosses();
    }
    Red redPos = job.redPos;
    Red redNeg = job.redNeg;
    long nPos = redPos.kind == 2 ? tot.keptPos : tot.cntPos;
    long nNeg = redNeg.kind == 2 ? tot.keptNeg : tot.cntNeg;
    boolean zeroPos = tot.cntPos == 0 || nPos == 0;
    boolean zeroNeg = tot.cntNeg == 0 || nNeg == 0;
    double sPos = zeroPos ? 0 : redPos.kind == 1 ? 1 : 1.0 / nPos;
    double sNeg = zeroNeg ? 0 : redNeg.kind == 1 ? 1 : 1.0 / nNeg;
    Tensor surrogate = null;
    if (needGrad && !(zeroPos && zeroNeg)) {
      Tensor gq;
      Tensor gr = null;
      Tensor c;
      try (NoGradGuard g = new NoGradGuard()) {
        for (Acc a : accs) {
          a.acc = torch.zeros(new long[] {n, qd.size(1)}, Tensors.options(Tensors.dtype(qd), qd));
        }
        if (refGrad) {
          gr = torch.empty(new long[] {m, rd.size(1)}, Tensors.options(Tensors.dtype(qd), qd), null);
        }
        // W holds +-1/d (or +-1): the positive-sign entries are one sub-loss's, the negative-sign ones the other's
        double sGt = inverted ? sNeg : sPos;
        double sLt = inverted ? sPos : sNeg;
        Tensor grT = gr;
        // Pass 2: per tile, the weights scaled into the thread's tile buffer, then its single-threaded GEMMs into
        // the thread's share of the query gradient (and the tile's rows of the reference gradient).
        singleThreadedBlas(accs.length > 1, () -> Parallel.forRows(tiles, accs.length, (chunk, t0, t1) -> {
          Acc a = accs[chunk];
          try (Scope s = Scope.open(); NoGradGuard ng = new NoGradGuard()) {
            for (int t = t0; t < t1; t++) {
              int c0 = t * tile;
              int tw = Math.min(tile, m - c0);
              if (dbl) {
                gradDouble(job, matR, a.bufRows, tile, c0, tw, 0, n, sGt, sLt, a);
              } else {
                gradFloat(job, matR, a.bufRows, tile, c0, tw, 0, n, sGt, sLt, a);
              }
              Tensor w = a.buf.narrow(1, 0, tw);
              Tensor rt = rd.narrow(0, c0, tw);
              a.acc.addmm_(w, rt);
              if (grT != null) {
                Tensor grt = grT.narrow(0, c0, tw);
                if (lp2) {
                  // dL/dr_j = r_j sum_i W_ij - sum_i W_ij q_i
                  Tensor cs = w.sum(new long[] {0}, false, new org.bytedeco.pytorch.ScalarTypeOptional()).unsqueeze(1);
                  grt.copy_(torch.addmm(rt.mul(cs), w.t(), qd, Tensors.s(1.0), Tensors.s(-1.0)));
                } else {
                  torch.mm_out(grt, w.t(), qd);
                }
              }
            }
          }
        }));
        Tensor acc = accs[0].acc;
        for (int k = 1; k < accs.length; k++) {
          acc = acc.add(accs[k].acc);
        }
        if (lp2) {
          double[] rowSum = new double[n];
          for (int i = 0; i < n; i++) {
            rowSum[i] = rowP[i] * sPos + rowN[i] * sNeg;
          }
          Tensor rs = Tensors.of(rowSum, Tensors.dtype(qd), n, 1);
          gq = qd.mul(rs).sub(acc);
        } else {
          gq = acc;
        }
        if (sameRef && gr != null) {
          gq = gq.add(gr);
          gr = null;
        }
        // the same sums as below, without the graph: the surrogate's value is exactly 0
        c = qd.mul(gq).sum();
        if (gr != null) {
          c = c.add(rd.mul(gr).sum());
        }
      }
      Tensor s = q.mul(gq).sum();
      if (gr != null) {
        s = s.add(r.mul(gr).sum());
      }
      surrogate = s.sub(c);
    }
    LossDict d = new LossDict();
    LossInfo pos = zeroPos ? LossInfo.zero() : LossInfo.reduced(Tensors.scalarLike(tot.sumPos * sPos, embeddings));
    LossInfo neg = zeroNeg ? LossInfo.zero() : LossInfo.reduced(Tensors.scalarLike(tot.sumNeg * sNeg, embeddings));
    if (surrogate != null) {
      if (!zeroPos) {
        pos = LossInfo.reduced(pos.losses().add(surrogate));
      } else {
        neg = LossInfo.reduced(neg.losses().add(surrogate));
      }
    }
    d.put("pos_loss", pos);
    d.put("neg_loss", neg);
    return d;
  }

  /**
   * Label codes: the query labels' distinct values, sorted, are codes {@code 0..L-1}; {@code job.code[i]} is row i's
   * code and {@code job.cols[c]} the reference columns (ascending) whose label has code c. Reference labels that no
   * query has are never positives and get no list.
   */
  private static void labelCodes(Job job, long[] lab, long[] ref) {
    long[] uniq = Arrays.stream(lab).distinct().sorted().toArray();
    job.code = new int[lab.length];
    for (int i = 0; i < lab.length; i++) {
      job.code[i] = Arrays.binarySearch(uniq, lab[i]);
    }
    int[] refCode = new int[ref.length];
    int[] count = new int[uniq.length];
    long lo = uniq.length == 0 ? 0 : uniq[0];
    long hi = uniq.length == 0 ? -1 : uniq[uniq.length - 1];
    for (int j = 0; j < ref.length; j++) {
      long v = ref[j];
      int k = v < lo || v > hi ? -1 : Arrays.binarySearch(uniq, v);
      refCode[j] = k;
      if (k >= 0) {
        count[k]++;
      }
    }
    job.cols = new int[uniq.length][];
    for (int c = 0; c < uniq.length; c++) {
      job.cols[c] = new int[count[c]];
    }
    int[] fill = new int[uniq.length];
    for (int j = 0; j < ref.length; j++) {
      int k = refCode[j];
      if (k >= 0) {
        job.cols[k][fill[k]++] = j;
      }
    }
  }

  /**
   * Squared row norms of a contiguous {@code [rows, dim]} matrix, accumulated in double and rounded to the tensor's
   * dtype (float32 values are then exact in the returned doubles).
   */
  private static double[] squaredNorms(Tensor x, int rows, int threads, boolean dbl) {
    double[] out = new double[rows];
    normalizeRows(x, threads, dbl, out, false);
    return out;
  }

  /**
   * {@code F.normalize(x, p=2, dim=1)} of a {@code [rows, dim]} matrix on {@code threads} threads: each row divided by
   * {@code max(||row||_2, 1e-12)} (the norm rounded to the dtype, as ATen's), into this thread's scratch buffer 1
   * (valid until its next call); {@code squares[i]}
   * gets normalized row i's squared norm (rounded to the dtype). Without {@code normalize}: only the squares of
   * {@code x}'s rows, and null.
   */
  private static Tensor normalizeRows(Tensor x, int threads, boolean dbl, double[] squares) {
    return normalizeRows(x, threads, dbl, squares, true);
  }

  private static Tensor normalizeRows(Tensor x, int threads, boolean dbl, double[] squares, boolean normalize) {
    int rows = (int) x.size(0);
    int dim = (int) x.size(1);
    Tensor xc = x.contiguous();
    Tensor out = normalize ? SCRATCH.get().matrix(1, rows, dim, xc) : null;
    Rows in = new Rows(xc);
    Rows o = normalize ? new Rows(out) : null;
    int block = Math.max(1, 8192 / Math.max(1, dim));
    Parallel.forRows(rows, threads, (chunk, from, to) -> {
      float[] f = dbl ? null : new float[block * dim];
      double[] d = dbl ? new double[block * dim] : null;
      for (int b = from; b < to; b += block) {
        int nb = Math.min(block, to - b);
        if (dbl) {
          in.get((long) b * dim, d, nb * dim);
          for (int i = 0; i < nb; i++) {
            int at = i * dim;
            if (normalize) {
              double den = Math.max(Math.sqrt(sumSquares(d, at, dim)), 1e-12);
              for (int k = at; k < at + dim; k++) {
                d[k] = d[k] / den;
              }
            }
            squares[b + i] = sumSquares(d, at, dim);
          }
          if (normalize) {
            o.put((long) b * dim, d, nb * dim);
          }
        } else {
          in.get((long) b * dim, f, nb * dim);
          for (int i = 0; i < nb; i++) {
            int at = i * dim;
            if (normalize) {
              float den = Math.max((float) Math.sqrt(sumSquares(f, at, dim)), 1e-12f);
              for (int k = at; k < at + dim; k++) {
                f[k] = f[k] / den;
              }
            }
            squares[b + i] = (float) sumSquares(f, at, dim);
          }
          if (normalize) {
            o.put((long) b * dim, f, nb * dim);
          }
        }
      }
    });
    return out;
  }

  /**
   * {@code sum(row[from..from+dim)^2)} in eight independent float partial sums (no dependency chain), added in double.
   */
  private static double sumSquares(float[] row, int from, int dim) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    float s4 = 0;
    float s5 = 0;
    float s6 = 0;
    float s7 = 0;
    int end = from + dim;
    int k = from;
    for (; k + 8 <= end; k += 8) {
      s0 += row[k] * row[k];
      s1 += row[k + 1] * row[k + 1];
      s2 += row[k + 2] * row[k + 2];
      s3 += row[k + 3] * row[k + 3];
      s4 += row[k + 4] * row[k + 4];
      s5 += row[k + 5] * row[k + 5];
      s6 += row[k + 6] * row[k + 6];
      s7 += row[k + 7] * row[k + 7];
    }
    double s = ((double) s0 + s1) + ((double) s2 + s3) + (((double) s4 + s5) + ((double) s6 + s7));
    for (; k < end; k++) {
      s += (double) row[k] * row[k];
    }
    return s;
  }

  /** {@link #sumSquares(float[], int, int)} in double. */
  private static double sumSquares(double[] row, int from, int dim) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    double s4 = 0;
    double s5 = 0;
    double s6 = 0;
    double s7 = 0;
    int end = from + dim;
    int k = from;
    for (; k + 8 <= end; k += 8) {
      s0 += row[k] * row[k];
      s1 += row[k + 1] * row[k + 1];
      s2 += row[k + 2] * row[k + 2];
      s3 += row[k + 3] * row[k + 3];
      s4 += row[k + 4] * row[k + 4];
      s5 += row[k + 5] * row[k + 5];
      s6 += row[k + 6] * row[k + 6];
      s7 += row[k + 7] * row[k + 7];
    }
    double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    for (; k < end; k++) {
      s += row[k] * row[k];
    }
    return s;
  }

  /** The reducer's open interval {@code (low, high)} of kept losses (mean/sum: every pair, as +-infinity). */
  private static double low(Red r) {
    return r.kind == 2 && r.low != null ? r.low : Double.NEGATIVE_INFINITY;
  }

  private static double high(Red r) {
    return r.kind == 2 && r.high != null ? r.high : Double.POSITIVE_INFINITY;
  }

  /**
   * Pass 1 on rows {@code [from, to)} of one tile (reference columns {@code [col0, col0 + tw)}; element (i, k) at
   * {@code p[i * ld + off + k]}): dot products to distances (LpDistance), then counts, kept sums and the unscaled
   * gradient weights, which are stored back in place of the dot products when {@code store}. A pair's loss is
   * {@code relu(v)} with {@code v = s * x + c} ({@code s = +-1}, {@code c} the negated margin: the same rounding as
   * ATen's {@code x - m} and {@code m - x}); it is kept when {@code low < relu(v) < high}, and its weight is nonzero
   * when it is kept and {@code v > 0}: {@code s / x} for LpDistance, {@code s} for similarities, so that positive-pair
   * weights have sign {@code inverted ? -1 : +1} and negative-pair ones the opposite (pass 2 tells them apart by
   * sign). Each row is first scored as all negatives (a loop without label tests; the tile's columns of the row's
   * own label sit it out as an infinite distance, or similarity, whose loss is 0), then those columns are scored as
   * positives (except the row's self column, weight 0). The distance loop has no branch and indexes its arrays
   * alike, so the JIT vectorizes it; cdist's clamp {@code max(d2, 1e-30)} is applied after the square root as
   * {@code max(x, sqrt(1e-30))} (the same result, NaN included), in the scalar loop.
   */
  private static void scoreFloat(Job job, Rows p, long ld, long off, int col0, int tw, int from, int to,
      boolean store, Acc a) {
    float[] x = a.rowF;
    boolean lp2 = job.lp2;
    float floorX = (float) Math.sqrt(1e-30f);
    float signPos = job.inverted ? -1f : 1f;
    float signNeg = -signPos;
    float cPos = (float) (job.inverted ? job.mp : -job.mp);
    float cNeg = (float) (job.inverted ? -job.mn : job.mn);
    float lowP = (float) low(job.redPos);
    float highP = (float) high(job.redPos);
    float lowN = (float) low(job.redNeg);
    float highN = (float) high(job.redNeg);
    float[] rNorm = a.rNormTileF;
    boolean zeroKeptN = 0 > lowN && 0 < highN;
    // a distance whose negative-pair loss is relu(-infinity) = 0: no loss, no weight
    float sitOut = -signNeg * Float.POSITIVE_INFINITY;
    long cntPos = 0;
    long cntNeg = 0;
    long keptPos = 0;
    long keptNeg = 0;
    double sumPos = 0;
    double sumNeg = 0;
    for (int i = from; i < to; i++) {
      p.get(i * ld + off, x, tw);
      if (lp2) {
        // cdist's mm formula: sqrt(max(|q|^2 + |r|^2 - 2 q.r, 1e-30))
        float qi = (float) job.qNorm[i];
        for (int k = 0; k < tw; k++) {
          x[k] = (float) Math.sqrt(qi + rNorm[k] - 2f * x[k]);
        }
      }
      int code = job.code[i];
      int[] cols = job.cols[code];
      int s0 = a.tileFrom[code];
      int s1 = a.tileTo[code];
      int ns = s1 - s0;
      if (a.sameF == null || a.sameF.length < ns) {
        a.sameF = new float[Math.max(ns, 16)];
      }
      // the row's own label's columns: their distances aside for the positives' loop
      float[] sameX = a.sameF;
      for (int k = 0; k < ns; k++) {
        int j = cols[s0 + k] - col0;
        float xv = x[j];
        if (lp2 && !(xv >= floorX)) {
          xv = floorX;
        }
        sameX[k] = xv;
        x[j] = sitOut;
      }
      double sn = 0;
      double rn = 0;
      long kn = 0;
      if (lp2) {
        for (int k = 0; k < tw; k++) {
          float xv = x[k];
          if (!(xv >= floorX)) {
            xv = floorX;
          }
          float v = signNeg * xv + cNeg;
          float l = v > 0f ? v : 0f;
          float w = 0f;
          if (l > lowN && l < highN) {
            kn++;
            sn += l;
            if (v > 0f) {
              w = signNeg / xv;
              rn += w;
            }
          }
          x[k] = w;
        }
      } else {
        for (int k = 0; k < tw; k++) {
          float v = signNeg * x[k] + cNeg;
          float l = v > 0f ? v : 0f;
          float w = 0f;
          if (l > lowN && l < highN) {
            kn++;
            sn += l;
            if (v > 0f) {
              w = signNeg;
              rn += w;
            }
          }
          x[k] = w;
        }
      }
      if (zeroKeptN) {
        kn -= ns; // the sat-out columns counted as kept zero losses
      }
      double sp = 0;
      double rp = 0;
      int si = job.self[i];
      for (int k = 0; k < ns; k++) {
        int j = cols[s0 + k];
        float w = 0f;
        if (j != si) {
          cntPos++;
          float xv = sameX[k];
          float v = signPos * xv + cPos;
          float l = v > 0f ? v : 0f;
          if (l > lowP && l < highP) {
            keptPos++;
            sp += l;
            if (v > 0f) {
              w = lp2 ? signPos / xv : signPos;
              rp += w;
            }
          }
        }
        x[j - col0] = w;
      }
      if (store) {
        p.put(i * ld + off, x, tw);
      }
      cntNeg += tw - ns;
      keptNeg += kn;
      sumPos += sp;
      sumNeg += sn;
      a.rowP[i] += rp;
      a.rowN[i] += rn;
    }
    a.cntPos += cntPos;
    a.cntNeg += cntNeg;
    a.keptPos += keptPos;
    a.keptNeg += keptNeg;
    a.sumPos += sumPos;
    a.sumNeg += sumNeg;
  }

  /**
   * Pass 2 on rows {@code [from, to)} of one tile: reads the stored unscaled weights (row i's tile at
   * {@code src[i * m + col0]}) and writes them scaled to {@code dst[i * ld]} (the tile buffer): positive entries
   * times {@code sGt}, negative ones times {@code sLt}, as {@code v * sLt + (v + |v|) / 2 * (sGt - sLt)}
   * ({@code (v + |v|) / 2} is exactly {@code max(v, 0)}; no branch, so the JIT vectorizes it).
   */
  private static void gradFloat(Job job, Rows src, Rows dst, long ld, int col0, int tw, int from, int to,
      double sGt, double sLt, Acc a) {
    float[] x = a.rowF;
    long m = job.m;
    float lt = (float) sLt;
    float dgt = (float) (sGt - sLt);
    for (int i = from; i < to; i++) {
      src.get(i * m + col0, x, tw);
      for (int k = 0; k < tw; k++) {
        float v = x[k];
        x[k] = v * lt + (v + Math.abs(v)) * 0.5f * dgt;
      }
      dst.put(i * ld, x, tw);
    }
  }

  /** {@link #scoreFloat} for float64. */
  private static void scoreDouble(Job job, Rows p, long ld, long off, int col0, int tw, int from, int to,
      boolean store, Acc a) {
    double[] x = a.rowD;
    boolean lp2 = job.lp2;
    double floorX = Math.sqrt(1e-30);
    double signPos = job.inverted ? -1 : 1;
    double signNeg = -signPos;
    double cPos = (job.inverted ? job.mp : -job.mp);
    double cNeg = (job.inverted ? -job.mn : job.mn);
    double lowP = low(job.redPos);
    double highP = high(job.redPos);
    double lowN = low(job.redNeg);
    double highN = high(job.redNeg);
    double[] rNorm = a.rNormTile;
    boolean zeroKeptN = 0 > lowN && 0 < highN;
    // a distance whose negative-pair loss is relu(-infinity) = 0: no loss, no weight
    double sitOut = -signNeg * Double.POSITIVE_INFINITY;
    long cntPos = 0;
    long cntNeg = 0;
    long keptPos = 0;
    long keptNeg = 0;
    double sumPos = 0;
    double sumNeg = 0;
    for (int i = from; i < to; i++) {
      p.get(i * ld + off, x, tw);
      if (lp2) {
        // cdist's mm formula: sqrt(max(|q|^2 + |r|^2 - 2 q.r, 1e-30))
        double qi = job.qNorm[i];
        for (int k = 0; k < tw; k++) {
          x[k] = Math.sqrt(qi + rNorm[k] - 2 * x[k]);
        }
      }
      int code = job.code[i];
      int[] cols = job.cols[code];
      int s0 = a.tileFrom[code];
      int s1 = a.tileTo[code];
      int ns = s1 - s0;
      if (a.sameD == null || a.sameD.length < ns) {
        a.sameD = new double[Math.max(ns, 16)];
      }
      // the row's own label's columns: their distances aside for the positives' loop
      double[] sameX = a.sameD;
      for (int k = 0; k < ns; k++) {
        int j = cols[s0 + k] - col0;
        double xv = x[j];
        if (lp2 && !(xv >= floorX)) {
          xv = floorX;
        }
        sameX[k] = xv;
        x[j] = sitOut;
      }
      double sn = 0;
      double rn = 0;
      long kn = 0;
      if (lp2) {
        for (int k = 0; k < tw; k++) {
          double xv = x[k];
          if (!(xv >= floorX)) {
            xv = floorX;
          }
          double v = signNeg * xv + cNeg;
          double l = v > 0 ? v : 0;
          double w = 0;
          if (l > lowN && l < highN) {
            kn++;
            sn += l;
            if (v > 0) {
              w = signNeg / xv;
              rn += w;
            }
          }
          x[k] = w;
        }
      } else {
        for (int k = 0; k < tw; k++) {
          double v = signNeg * x[k] + cNeg;
          double l = v > 0 ? v : 0;
          double w = 0;
          if (l > lowN && l < highN) {
            kn++;
            sn += l;
            if (v > 0) {
              w = signNeg;
              rn += w;
            }
          }
          x[k] = w;
        }
      }
      if (zeroKeptN) {
        kn -= ns; // the sat-out columns counted as kept zero losses
      }
      double sp = 0;
      double rp = 0;
      int si = job.self[i];
      for (int k = 0; k < ns; k++) {
        int j = cols[s0 + k];
        double w = 0;
        if (j != si) {
          cntPos++;
          double xv = sameX[k];
          double v = signPos * xv + cPos;
          double l = v > 0 ? v : 0;
          if (l > lowP && l < highP) {
            keptPos++;
            sp += l;
            if (v > 0) {
              w = lp2 ? signPos / xv : signPos;
              rp += w;
            }
          }
        }
        x[j - col0] = w;
      }
      if (store) {
        p.put(i * ld + off, x, tw);
      }
      cntNeg += tw - ns;
      keptNeg += kn;
      sumPos += sp;
      sumNeg += sn;
      a.rowP[i] += rp;
      a.rowN[i] += rn;
    }
    a.cntPos += cntPos;
    a.cntNeg += cntNeg;
    a.keptPos += keptPos;
    a.keptNeg += keptNeg;
    a.sumPos += sumPos;
    a.sumNeg += sumNeg;
  }

  /** {@link #gradFloat} for float64. */
  private static void gradDouble(Job job, Rows src, Rows dst, long ld, int col0, int tw, int from, int to,
      double sGt, double sLt, Acc a) {
    double[] x = a.rowD;
    long m = job.m;
    double lt = sLt;
    double dgt = sGt - sLt;
    for (int i = from; i < to; i++) {
      src.get(i * m + col0, x, tw);
      for (int k = 0; k < tw; k++) {
        double v = x[k];
        x[k] = v * lt + (v + Math.abs(v)) * 0.5 * dgt;
      }
      dst.put(i * ld, x, tw);
    }
  }
}
