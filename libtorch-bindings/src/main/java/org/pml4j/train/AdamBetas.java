package org.pml4j.train;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.AdamOptions;
import org.pml4j.torch.Torch;

/**
 * Writes Adam's {@code betas}, a C++ {@code std::tuple<double, double>} that Bytedeco exposes as a raw
 * {@code DoublePointer}. libstdc++ lays a tuple out with its <em>last</em> element first, so {@code beta1} may sit at
 * index 1; the layout is read once from LibTorch's defaults (0.9, 0.999) instead of being assumed.
 */
final class AdamBetas {
  private static final int BETA1_INDEX;

  static {
    Torch.ensureLoaded();
    DoublePointer d = new AdamOptions().betas();
    double a = d.get(0);
    double b = d.get(1);
    if (a == 0.9 && b == 0.999) {
      BETA1_INDEX = 0;
    } else if (a == 0.999 && b == 0.9) {
      BETA1_INDEX = 1;
    } else {
      throw new IllegalStateException("unexpected layout of AdamOptions.betas: " + a + ", " + b);
    }
  }

  private AdamBetas() {}

  static void set(DoublePointer betas, double beta1, double beta2) {
    betas.put(BETA1_INDEX, beta1);
    betas.put(1 - BETA1_INDEX, beta2);
  }

  static double[] get(DoublePointer betas) {
    return new double[] {betas.get(BETA1_INDEX), betas.get(1 - BETA1_INDEX)};
  }

  static void check(double beta1, double beta2, double eps) {
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new IllegalArgumentException("Invalid beta parameter at index 0: " + beta1);
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("Invalid beta parameter at index 1: " + beta2);
    }
    if (!(eps >= 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException("Invalid epsilon value: " + eps);
    }
  }

  static double[] fromSpec(org.pml4j.spec.Params p) {
    double[] betas = p.getDoubleArray("betas");
    if (betas == null) {
      return new double[] {0.9, 0.999};
    }
    if (betas.length != 2) {
      throw new IllegalArgumentException("betas must be a list of 2 numbers, got " + betas.length);
    }
    return betas;
  }
}
