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

  private static void checkBins(String what, JsonNode inv, long[][] pairs, double[][] m, long[] y, long[] ry,
      boolean positive, boolean self) {
    double[] edges = Compare.flat(inv.get("bin_edges"));
    int bins = edges.length - 1;
    int[] counts = new int[bins];
    for (long[] p : pairs) {
      boolean same = y[(int) p[0]] == ry[(int) p[1]];
      if (same != positive || (positive && self && p[0] == p[1])) {
        throw new Mismatch(what + " pair " + java.util.Arrays.toString(p) + " has the wrong label relation");
      }
      double v = m[(int) p[0]][(int) p[1]];
      int b = -1;
      for (int i = 0; i < bins; i++) {
        boolean last = i == bins - 1;
        double lo = edges[i];
        double hi = edges[i + 1];
        double tol = 1e-5 * Math.max(1, Math.abs(hi));
        if (v >= lo - tol && (v < hi - tol || (last && v <= hi + tol))) {
          b = i;
          break;
        }
      }
      if (b < 0) {
        throw new Mismatch(what + " pair value " + v + " lies outside the histogram");
      }
      counts[b]++;
    }
    int per = inv.get("per_bin").asInt();
    java.util.Set<Integer> nonEmpty = new java.util.HashSet<>();
    for (JsonNode n : inv.get("nonempty_bins")) {
      nonEmpty.add(n.asInt());
    }
    for (int i = 0; i < bins; i++) {
      int want = nonEmpty.contains(i) ? per : 0;
      if (counts[i] != want) {
        throw new Mismatch(what + " bin " + i + ": expected " + want + " pairs, got " + counts[i]);
      }
    }
  }
}
