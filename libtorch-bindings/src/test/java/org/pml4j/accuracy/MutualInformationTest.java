package org.pml4j.accuracy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * NMI and AMI against values computed by hand: MI = sum n_ij/N ln(N n_ij / (a_i b_j)), entropies of the class sizes,
 * and EMI summed over the hypergeometric distribution (binomial coefficients, not log-gamma).
 */
class MutualInformationTest {
  private static final double TOL = 1e-12;

  @Test
  void threeClustersOfTwoClasses() {
    // Contingency [[2,1,0],[0,1,2]], N = 6: MI = (4/6) ln 2, H(true) = ln 2, H(pred) = ln 3.
    long[] t = {0, 0, 0, 1, 1, 1};
    long[] p = {0, 0, 1, 1, 2, 2};
    double mi = 4.0 / 6 * Math.log(2);
    assertEquals(0.46209812037329684, mi, TOL);
    assertEquals(mi, MutualInformation.mutualInfo(new double[] {0, 0, 0, 1, 1, 1}, new double[] {0, 0, 1, 1, 2, 2}),
        TOL);
    assertEquals(mi / ((Math.log(2) + Math.log(3)) / 2), MutualInformation.nmi(t, p), TOL);
    assertEquals(0.5158037429793888, MutualInformation.nmi(t, p), TOL);
    // EMI = 0.2772588722239781 (= 0.4 ln 2): AMI = (MI - EMI) / (mean(H) - EMI).
    assertEquals(0.2772588722239781, MutualInformation.expectedMutualInfo(new long[] {3, 3}, new long[] {2, 2, 2}, 6),
        TOL);
    assertEquals(0.29879245817089006, MutualInformation.ami(t, p), TOL);
  }

  @Test
  void fourClassesEightRows() {
    long[] t = {0, 0, 1, 1, 2, 2, 2, 3};
    long[] p = {1, 1, 0, 0, 0, 2, 3, 3};
    assertEquals(0.68810413810732818, MutualInformation.nmi(t, p), TOL);
    assertEquals(0.31989551577364334, MutualInformation.ami(t, p), TOL);
    // Symmetric in its arguments.
    assertEquals(MutualInformation.ami(t, p), MutualInformation.ami(p, t), TOL);
    assertEquals(MutualInformation.nmi(t, p), MutualInformation.nmi(p, t), TOL);
  }

  @Test
  void independentLabelingsScoreBelowChance() {
    // MI = 0, EMI = 0.23104906018664842: AMI = -EMI / (ln 2 - EMI) = -0.5.
    long[] t = {0, 1, 0, 1};
    long[] p = {0, 0, 1, 1};
    assertEquals(0.0, MutualInformation.nmi(t, p), TOL);
    assertEquals(-0.5, MutualInformation.ami(t, p), TOL);
  }

  @Test
  void perfectMatchesAndLimitCases() {
    assertEquals(1.0, MutualInformation.nmi(new long[] {0, 0, 1, 1}, new long[] {1, 1, 0, 0}), TOL);
    assertEquals(1.0, MutualInformation.ami(new long[] {0, 0, 1, 1}, new long[] {5, 5, 3, 3}), TOL);
    // Both labelings a single cluster: a perfect match by definition.
    assertEquals(1.0, MutualInformation.nmi(new long[] {7, 7, 7}, new long[] {2, 2, 2}), TOL);
    assertEquals(1.0, MutualInformation.ami(new long[] {7, 7, 7}, new long[] {2, 2, 2}), TOL);
    assertEquals(1.0, MutualInformation.ami(new long[0], new long[0]), TOL);
    // One class split into singletons: no information.
    assertEquals(0.0, MutualInformation.nmi(new long[] {0, 0, 0, 0}, new long[] {0, 1, 2, 3}), TOL);
    assertEquals(0.0, MutualInformation.ami(new long[] {0, 0, 0, 0}, new long[] {0, 1, 2, 3}), TOL);
    // Float labels are categories by value, as numpy's unique.
    assertEquals(1.0, MutualInformation.nmi(new double[] {0.5, 0.5, 2}, new double[] {1, 1, 0}), TOL);
  }

  @Test
  void entropyAndLogFactorial() {
    assertEquals(Math.log(3), MutualInformation.entropy(new double[] {1, 2, 3}), TOL);
    assertEquals(0.0, MutualInformation.entropy(new double[] {4, 4}), TOL);
    assertEquals(1.0, MutualInformation.entropy(new double[0]), TOL);
    assertEquals(Math.log(120), MutualInformation.logFactorial(5), TOL);
    // ln(100!) and ln(1000!) (Stirling's series path), relative 1e-15.
    assertEquals(363.73937555556347, MutualInformation.logFactorial(100), 363.74 * 1e-15);
    assertEquals(5912.1281784881633, MutualInformation.logFactorial(1000), 5912.13 * 1e-15);
  }

  @Test
  void lengthsMustAgree() {
    assertThrows(IllegalArgumentException.class, () -> MutualInformation.nmi(new long[] {0, 1}, new long[] {0}));
  }
}
