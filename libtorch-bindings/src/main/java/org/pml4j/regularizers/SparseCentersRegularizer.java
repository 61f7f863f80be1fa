package org.pml4j.regularizers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.distances.BaseDistance;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.reducers.BaseReducer;
import org.pml4j.reducers.DivisorReducer;
import org.pml4j.reducers.LossDict;
import org.pml4j.reducers.LossInfo;
import org.pml4j.reducers.ReductionType;
import org.pml4j.spec.Params;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code SparseCentersRegularizer}, SoftTriple's center regularizer: the rows are {@code numClasses} blocks of
 * {@code centersPerClass} centers; for every pair of centers of the same class (upper triangle) it pays
 * {@code sqrt(2 + tiny - min(2 cos, 2))}, the distance between the normalized centers. Reduced by
 * {@link DivisorReducer} with divisor {@code 2 * #pairs}. The distance must be a {@link CosineSimilarity}.
 */
public class SparseCentersRegularizer extends BaseRegularizer {
  private final int numClasses;
  private final int centersPerClass;

  /** PML's defaults for the given sizes: CosineSimilarity, DivisorReducer. */
  public SparseCentersRegularizer(int numClasses, int centersPerClass) {
    this(numClasses, centersPerClass, null, null);
  }

  /**
   * @param numClasses number of classes
   * @param centersPerClass centers per class, more than 1
   * @param distance null for {@link CosineSimilarity}; must be a CosineSimilarity
   * @param reducer null for {@link DivisorReducer}
   * @throws IllegalArgumentException for {@code centersPerClass <= 1} or another distance
   */
  public SparseCentersRegularizer(int numClasses, int centersPerClass, BaseDistance distance, BaseReducer reducer) {
    super(distance, reducer);
    if (centersPerClass <= 1) {
      throw new IllegalArgumentException("centers_per_class must be > 1, got " + centersPerClass);
    }
    if (numClasses < 1) {
      throw new IllegalArgumentException("num_classes must be >= 1, got " + numClasses);
    }
    if (!(this.distance instanceof CosineSimilarity)) {
      throw new IllegalArgumentException("SparseCentersRegularizer requires the distance metric to be "
          + "CosineSimilarity, got " + this.distance.getClass().getSimpleName());
    }
    this.numClasses = numClasses;
    this.centersPerClass = centersPerClass;
  }

  @Override
  protected BaseDistance defaultDistance() {
    return new CosineSimilarity();
  }

  @Override
  protected BaseReducer defaultReducer() {
    return new DivisorReducer();
  }

  /** PML's {@code same_class_mask}: true for (i, j) of the same class with i < j. */
  private Tensor sameClassMask(Tensor like) {
    long total = (long) numClasses * centersPerClass;
    long[] cls = new long[(int) total];
    for (int i = 0; i < total; i++) {
      cls[i] = i / centersPerClass;
    }
    Tensor c = Tensors.longs(cls).to(like.device(), org.bytedeco.pytorch.global.torch.ScalarType.Long);
    Tensor same = c.unsqueeze(1).eq(c.unsqueeze(0));
    Tensor upper = torch.ones(new long[] {total, total},
        Tensors.options(org.bytedeco.pytorch.global.torch.ScalarType.Bool, like)).triu(1);
    return same.logical_and(upper);
  }

  @Override
  protected LossDict computeLoss(Tensor x) {
    long total = (long) numClasses * centersPerClass;
    if (x.size(0) != total) {
      throw new IllegalArgumentException("SparseCentersRegularizer expects " + total + " rows (num_classes * "
          + "centers_per_class), got " + x.size(0));
    }
    Tensor sims = distance.forward(x);
    Tensor mask = sameClassMask(x);
    Tensor masked = Tensors.index(sims, mask).mul(Tensors.s(2.0)).clamp_max(Tensors.s(2.0));
    double divisor = 2.0 * numClasses * centersPerClass * (centersPerClass - 1) / 2;
    Tensor reg = torch.rsub(masked, Tensors.s(2.0 + Tensors.smallVal(Tensors.dtype(x)))).sqrt();
    return LossDict.of("loss", new LossInfo(reg, new Tensor[] {Tensors.arange(reg.size(0), reg)},
        ReductionType.ELEMENT, divisor));
  }

  public int numClasses() {
    return numClasses;
  }

  public int centersPerClass() {
    return centersPerClass;
  }

  /**
   * Registry factory: {@code num_classes}, {@code centers_per_class} (required), {@code distance}, {@code reducer},
   * {@code collect_stats}.
   */
  public static SparseCentersRegularizer fromSpec(Params p) {
    p.collectStats();
    Integer nc = p.getIntOrNull("num_classes");
    Integer cpc = p.getIntOrNull("centers_per_class");
    if (nc == null || cpc == null) {
      throw new IllegalArgumentException("SparseCentersRegularizer requires num_classes and centers_per_class");
    }
    return new SparseCentersRegularizer(nc, cpc, p.getComponent("distance", BaseDistance.class),
        p.getComponent("reducer", BaseReducer.class));
  }
}
