package org.pml4j.losses;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;
import org.pml4j.validation.Checks;

/**
 * PML's {@code SubCenterArcFaceLoss} (Deng et al., ECCV 2020): {@link ArcFaceLoss} with {@code sub_centers} weight
 * vectors per class. {@code W} is {@code [embedding_size, num_classes * sub_centers]}, class-major (class {@code c}
 * owns columns {@code [c·K, (c+1)·K)}); a sample's cosine to a class is the maximum over that class's sub-centers,
 * then the ArcFace margin (in degrees) and scale apply. {@link #getOutliers} finds each class's dominant sub-center
 * and the samples far from it, for cleaning noisy data sets.
 *
 * <p><b>PML 2.8.1 behaviour kept:</b> the constructor drops every keyword argument other than {@code num_classes},
 * {@code embedding_size}, {@code margin}, {@code scale} and {@code sub_centers}, so a distance, reducer or regularizer
 * given to it is silently ignored (fixed upstream after 2.8.1 by PR #746). The public constructors here do the same;
 * {@link #withOptions} (spec key {@code honor_kwargs: true}) builds a loss that honours its options (the fixed
 * behaviour).
 */
public class SubCenterArcFaceLoss extends ArcFaceLoss implements OutlierDetector {
  private final int subCenters;
  private final boolean honorOptions;

  /** PML's default {@code sub_centers}: weight vectors per class. */
  public static final int DEFAULT_SUB_CENTERS = 3;
  /** Default {@code honor_kwargs}: off, PML 2.8.1's behaviour (the loss options are ignored). */
  public static final boolean DEFAULT_HONOR_KWARGS = false;

  /**
   * PML's defaults: {@link #DEFAULT_MARGIN}, {@link #DEFAULT_SCALE} (ArcFaceLoss's, which PML repeats),
   * {@link #DEFAULT_SUB_CENTERS}.
   */
  public SubCenterArcFaceLoss(int numClasses, int embeddingSize) {
    this(numClasses, embeddingSize, DEFAULT_MARGIN, DEFAULT_SCALE, DEFAULT_SUB_CENTERS, LossOptions.defaults());
  }

  /**
   * As PML 2.8.1: {@code options} are accepted and ignored (CosineSimilarity, MeanReducer, no regularizers).
   *
   * @param numClasses number of classes
   * @param embeddingSize embedding width
   * @param marginDegrees additive angular margin, in degrees
   * @param scale multiplies every logit
   * @param subCenters weight vectors per class
   * @param options ignored, like PML 2.8.1's extra kwargs; see {@link #withOptions}
   */
  public SubCenterArcFaceLoss(int numClasses, int embeddingSize, double marginDegrees, double scale, int subCenters,
      LossOptions options) {
    this(numClasses, embeddingSize, marginDegrees, scale, subCenters, options, DEFAULT_HONOR_KWARGS);
  }

  private SubCenterArcFaceLoss(int numClasses, int embeddingSize, double marginDegrees, double scale, int subCenters,
      LossOptions options, boolean honorOptions) {
    // PML 2.8.1 passes only (num_classes * sub_centers, embedding_size, margin, scale) up: kwargs are dropped.
    super(numClasses, embeddingSize, checkSubCenters(subCenters) * numClasses, marginDegrees, scale,
        honorOptions ? options : LossOptions.defaults());
    this.subCenters = subCenters;
    this.honorOptions = honorOptions;
  }

  /**
   * A loss that honours {@code options} (distance, reducer, regularizers), as PML does after 2.8.1 (PR #746).
   * Arguments as for {@link #SubCenterArcFaceLoss(int, int, double, double, int, LossOptions)}.
   */
  public static SubCenterArcFaceLoss withOptions(int numClasses, int embeddingSize, double marginDegrees, double scale,
      int subCenters, LossOptions options) {
    return new SubCenterArcFaceLoss(numClasses, embeddingSize, marginDegrees, scale, subCenters, options, true);
  }

  private static int checkSubCenters(int subCenters) {
    if (subCenters < 1) {
      throw new IllegalArgumentException("sub_centers must be >= 1, got " + subCenters);
    }
    return subCenters;
  }

  /** The cosine to each class: the maximum over its sub-centers, {@code [B, num_classes]}. */
  @Override
  protected Tensor getCosine(Tensor embeddings, Tensor w) {
    Tensor cosine = distance.forward(embeddings, w.t()).view(-1, numClasses, subCenters);
    return cosine.max(2, false).get0();
  }

  /** {@link #getOutliers(Tensor, Tensor, double)} with PML's default threshold of 75 degrees. */
  public Tensor[] getOutliers(Tensor embeddings, Tensor labels) {
    return getOutliers(embeddings, labels, 75);
  }

  /**
   * PML's {@code get_outliers}: for each class present in {@code labels}, the dominant sub-center (the one most of the
   * class's samples are closest to; the first on ties) and the samples whose cosine to it is below
   * {@code cos(threshold)}. Runs without gradient.
   *
   * @param embeddings {@code [B, embedding_size]}
   * @param labels {@code [B]} class labels; labels outside {@code [0, num_classes)} are not examined
   * @param thresholdDegrees angle beyond which a sample is an outlier
   * @return {@code [outliers, dominantCenters]}: the outlier row indices (int64, grouped by class in increasing label
   *     order, then by row), and the {@code [embedding_size, num_classes]} dominant sub-centers. Columns of classes
   *     absent from the batch are zero (PML leaves them uninitialized); the outliers are int64 even when empty (PML's
   *     empty result is a float tensor). PML always returns both, whatever {@code return_dominant_centers} says.
   */
  @Override
  public Tensor[] getOutliers(Tensor embeddings, Tensor labels, double thresholdDegrees) {
    if (labels == null) {
      throw new IllegalArgumentException("labels are required for get_outliers");
    }
    labels = Checks.checkEmbeddingsAndLabels(embeddings, labels, "embeddings", "labels");
    try (NoGradGuard g = new NoGradGuard()) {
      Tensor w = weightLike(embeddings);
      Tensor emb = embeddings.detach();
      double cosThreshold = Math.cos(Math.toRadians(thresholdDegrees));
      Tensor dominantCenters = Tensors.zeros(emb, embeddingSize, numClasses);
      List<Tensor> outliers = new ArrayList<>();
      for (long label = 0; label < numClasses; label++) {
        Tensor targetSamples = labels.eq(Tensors.s(label));
        if (!targetSamples.any().item_bool()) {
          continue;
        }
        Tensor targetIndices = Tensors.where(targetSamples)[0];
        Tensor targetEmbeddings = Tensors.index(emb, targetSamples);
        Tensor subCentersOfLabel = w.narrow(1, label * subCenters, subCenters);
        // "distances" are cosine similarities
        Tensor distances = distance.forward(targetEmbeddings, subCentersOfLabel.t());
        Tensor maxSubCenterIdxs = distances.argmax(new LongOptional(1), false);
        long dominantIdx = torch.bincount(maxSubCenterIdxs).argmax().item_long();
        dominantCenters.select(1, label).copy_(subCentersOfLabel.select(1, dominantIdx));
        Tensor dominantDist = distances.select(1, dominantIdx);
        outliers.add(Tensors.index(targetIndices, dominantDist.lt(Tensors.s(cosThreshold))));
      }
      Tensor out = outliers.isEmpty() ? Tensors.emptyLong(emb) : Tensors.cat(0, outliers.toArray(new Tensor[0]));
      return new Tensor[] {out, dominantCenters};
    }
  }

  public int subCenters() {
    return subCenters;
  }

  /** Whether the options (distance, reducer, regularizers) are used: true only when built by {@link #withOptions}. */
  public boolean honorsOptions() {
    return honorOptions;
  }

  /**
   * Registry factory: {@code num_classes}, {@code embedding_size} (required), {@code margin} (degrees), {@code scale},
   * {@code sub_centers}. The common kwargs ({@code distance}, {@code reducer}, regularizers) are read and ignored, as
   * PML 2.8.1 does, unless {@code honor_kwargs} (beyond PML, {@link #DEFAULT_HONOR_KWARGS}) is true: then they are
   * used, as {@link #withOptions} does.
   */
  public static SubCenterArcFaceLoss fromSpec(Params p) {
    int numClasses = p.getRequiredInt("num_classes");
    int embeddingSize = p.getRequiredInt("embedding_size");
    double margin = p.getDouble("margin", DEFAULT_MARGIN);
    double scale = p.getDouble("scale", DEFAULT_SCALE);
    int subCenters = p.getInt("sub_centers", DEFAULT_SUB_CENTERS);
    // PML 2.8.1 swallows these kwargs without using them; read them so that specs valid for PML stay valid here.
    LossOptions options = LossOptions.fromSpec(p, true);
    if (p.getBool("honor_kwargs", DEFAULT_HONOR_KWARGS)) {
      return withOptions(numClasses, embeddingSize, margin, scale, subCenters, options);
    }
    return new SubCenterArcFaceLoss(numClasses, embeddingSize, margin, scale, subCenters, options);
  }
}
