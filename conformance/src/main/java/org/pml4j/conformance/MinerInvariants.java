package org.pml4j.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.miners.BaseMiner;
import org.pml4j.torch.Tensors;
import org.pml4j.tuples.IndicesTuple;

/**
 * Checks of randomized miners' outputs by their invariants (the exact draws reproduce only with PyTorch's own CPU
 * generator): DistanceWeightedMiner's triplets must be valid and sampled where the weight is positive;
 * UniformHistogramMiner's pairs must fill each non-empty bin with exactly {@code per_bin} pairs.
 */
final class MinerInvariants {
  private MinerInvariants() {}

  static void check(BaseMiner miner, JsonNode e, JsonNode e64, Tensor emb, Tensor labels, Tensor ref,
      Tensor refLabels, IndicesTuple out) {
    long[] y = Tensors.toLongs(labels);
    long[] ry = refLabels == null ? y : Tensors.toLongs(refLabels);
    boolean self = ref == null;
    if (e64.has("sampling_weights")) {
      JsonNode w = e.has("sampling_weights") ? e.get("sampling_weights") : e64.get("sampling_weights");
      long[][] t = CaseRunner.rows(out.get(0), out.get(1), out.get(2));
      for (long[] r : t) {
        if (y[(int) r[0]] != ry[(int) r[1]] || (self && r[0] == r[1])) {
          throw new Mismatch("triplet " + java.util.Arrays.toString(r) + " has an invalid positive");
        }
        if (!(Compare.num(w.get((int) r[0]).get((int) r[2])) > 0)) {
          throw new Mismatch("triplet " + java.util.Arrays.toString(r) + " uses a negative of sampling weight 0");
        }
      }
      return;
    }
    JsonNode inv = e.has("invariants") ? e.get("invariants") : e64.get("invariants");
    if (inv == null) {
      throw new Mismatch("randomized miner case without invariants");
    }
    Tensor mat = miner.distance().forward(emb, ref);
    double[][] m = Tensors.toDoubles2d(mat);
    checkBins("pos", inv.get("pos"), CaseRunner.rows(out.get(0), out.get(1)), m, y, ry, true, self);
    checkBins("neg", inv.get("neg"), CaseRunner.rows(out.get(2), out.get(3)), m, y, ry, false, self);
  }

  /**
   * Bins each output pair's value with PML's rule on the case's edges ({@code lo <= v < hi}, last bin closed) and
   * requires {@code per_bin} pairs in each non-empty bin. The port recomputes the matrix and the edges, so a value may
   * differ from PML's by a rounding error: a value within {@code tol} of an interior edge between two bins of
   * positive width may count for either bin (the counts must then be satisfiable by some assignment), and a value
   * within {@code tol} outside the range is clamped into it.
   */
  private static void checkBins(String what, JsonNode inv, long[][] pairs, double[][] m, long[] y, long[] ry,
      boolean positive, boolean self) {
    double[] edges = Compare.flat(inv.get("bin_edges"));
    int bins = edges.length - 1;
    int[] sure = new int[bins];
    int[] ambiguous = new int[bins]; // ambiguous[i]: may belong to bin i or bin i + 1
    for (long[] p : pairs) {
      boolean same = y[(int) p[0]] == ry[(int) p[1]];
      if (same != positive || (positive && self && p[0] == p[1])) {
        throw new Mismatch(what + " pair " + java.util.Arrays.toString(p) + " has the wrong label relation");
      }
      double v = m[(int) p[0]][(int) p[1]];
      double tol = 1e-5 * Math.max(1, Math.abs(v));
      if (v < edges[0] && v >= edges[0] - tol) {
        v = edges[0];
      } else if (v > edges[bins] && v <= edges[bins] + tol) {
        v = edges[bins];
      }
      int b = -1;
      for (int i = 0; i < bins; i++) {
        if (edges[i] <= v && (i == bins - 1 ? v <= edges[i + 1] : v < edges[i + 1])) {
          b = i;
          break;
        }
      }
      if (b < 0) {
        throw new Mismatch(what + " pair value " + v + " lies outside the histogram [" + edges[0] + ", "
            + edges[bins] + "]");
      }
      boolean nearLower = b > 0 && v - edges[b] <= tol && edges[b] > edges[b - 1] && edges[b + 1] > edges[b];
      boolean nearUpper = b < bins - 1 && edges[b + 1] - v <= tol && edges[b + 2] > edges[b + 1]
          && edges[b + 1] > edges[b];
      if (nearLower && (!nearUpper || v - edges[b] <= edges[b + 1] - v)) {
        ambiguous[b - 1]++;
      } else if (nearUpper) {
        ambiguous[b]++;
      } else {
        sure[b]++;
      }
    }
    int per = inv.get("per_bin").asInt();
    java.util.Set<Integer> nonEmpty = new java.util.HashSet<>();
    for (JsonNode n : inv.get("nonempty_bins")) {
      nonEmpty.add(n.asInt());
    }
    // Greedy from the left: ambiguous pairs between bins i and i+1 that bin i does not need go to bin i+1.
    int carry = 0;
    for (int i = 0; i < bins; i++) {
      int want = nonEmpty.contains(i) ? per : 0;
      int have = sure[i] + carry;
      int avail = i < bins - 1 ? ambiguous[i] : 0;
      int need = want - have;
      if (need < 0 || need > avail) {
        throw new Mismatch(what + " bin " + i + ": expected " + want + " pairs, got " + have
            + (avail > 0 ? " (+ up to " + avail + " within rounding of the upper edge)" : ""));
      }
      carry = avail - need;
    }
  }
}
