package org.pml4j.tuples;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.torch.Tensors;

/**
 * PML's {@code loss_and_miner_utils}: all pairs and triplets from labels, tuple conversions, per-sample weights,
 * self-comparison removal and PML's masked {@code logsumexp}. Index order follows {@code torch.where} (row-major), as
 * in PML, because it is observable (ties, random sampling).
 */
public final class Lmu {
  private Lmu() {}

  /** {@code (matches, diffs)} as uint8 matrices; the diagonal of matches is zeroed when {@code refLabels == labels}. */
  public static Tensor[] matchesAndDiffs(Tensor labels, Tensor refLabels) {
    if (refLabels == null) {
      refLabels = labels;
    }
    Tensor matches = labels.unsqueeze(1).eq(refLabels.unsqueeze(0)).to(ScalarType.Byte);
    Tensor diffs = matches.bitwise_xor(Tensors.s(1L));
    if (refLabels == labels) {
      matches.fill_diagonal_(Tensors.s(0L));
    }
    return new Tensor[] {matches, diffs};
  }

  /** Every positive pair and every negative pair: {@code (a1, p, a2, n)}. */
  public static IndicesTuple allPairsIndices(Tensor labels, Tensor refLabels) {
    Tensor[] md = matchesAndDiffs(labels, refLabels);
    Tensor[] pos = Tensors.where(md[0]);
    Tensor[] neg = Tensors.where(md[1]);
    return IndicesTuple.pairs(pos[0], pos[1], neg[0], neg[1]);
  }

  /** Pairs from anything: null → all pairs; pairs unchanged; triplets {@code (a,p,n)} → {@code (a,p,a,n)}. */
  public static IndicesTuple convertToPairs(IndicesTuple tuple, Tensor labels, Tensor refLabels) {
    if (tuple == null) {
      requireLabels(labels);
      return allPairsIndices(labels, refLabels);
    }
    if (tuple.isPairs()) {
      return tuple;
    }
    return IndicesTuple.pairs(tuple.get(0), tuple.get(1), tuple.get(0), tuple.get(2));
  }

  /** Every triplet {@code (a, p, n)} with {@code labels[a]==ref[p]}, {@code a != p}, {@code labels[a]!=ref[n]}. */
  public static IndicesTuple allTripletsIndices(Tensor labels, Tensor refLabels) {
    Tensor[] md = matchesAndDiffs(labels, refLabels);
    Tensor triplets = md[0].unsqueeze(2).mul(md[1].unsqueeze(1));
    Tensor[] w = Tensors.where(triplets);
    return IndicesTuple.triplets(w[0], w[1], w[2]);
  }

  /**
   * Triplets from anything: null → all triplets (or {@code tPerAnchor} random ones per anchor when it is not null);
   * triplets unchanged; pairs → every (positive pair, negative pair) combination sharing the anchor.
   *
   * @param tPerAnchor null for "all"
   */
  public static IndicesTuple convertToTriplets(IndicesTuple tuple, Tensor labels, Tensor refLabels,
      Integer tPerAnchor) {
    if (tuple == null) {
      requireLabels(labels);
      if (tPerAnchor == null) {
        return allTripletsIndices(labels, refLabels);
      }
      return randomTripletIndices(labels, refLabels, tPerAnchor, null);
    }
    if (tuple.isTriplets()) {
      return tuple;
    }
    return pairsToTriplets(tuple);
  }

  /**
   * Every (positive pair, negative pair) combination sharing the anchor, in the order of PML's
   * {@code torch.where(a1[:, None] == a2)} (positive pairs in order, and for each its negatives in order). Computed by
   * bucketing the negative pairs by anchor: O(P + N + T) instead of PML's O(P·N) comparison matrix, which at batch 256
   * with a miner's tuples dominated the step.
   */
  static IndicesTuple pairsToTriplets(IndicesTuple tuple) {
    long[] a1 = Tensors.toLongs(tuple.get(0));
    long[] p = Tensors.toLongs(tuple.get(1));
    long[] a2 = Tensors.toLongs(tuple.get(2));
    long[] n = Tensors.toLongs(tuple.get(3));
    java.util.Map<Long, long[]> negsByAnchor = new java.util.HashMap<>();
    java.util.Map<Long, Integer> counts = new java.util.HashMap<>();
    for (long a : a2) {
      counts.merge(a, 1, Integer::sum);
    }
    java.util.Map<Long, Integer> fill = new java.util.HashMap<>();
    for (int j = 0; j < a2.length; j++) {
      long[] bucket = negsByAnchor.computeIfAbsent(a2[j], k -> new long[counts.get(k)]);
      int at = fill.merge(a2[j], 1, Integer::sum) - 1;
      bucket[at] = n[j];
    }
    long total = 0;
    for (long a : a1) {
      long[] b = negsByAnchor.get(a);
      total += b == null ? 0 : b.length;
    }
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("the tuple expands to " + total + " triplets, more than a Java array holds");
    }
    long[] ta = new long[(int) total];
    long[] tp = new long[(int) total];
    long[] tn = new long[(int) total];
    int k = 0;
    for (int i = 0; i < a1.length; i++) {
      long[] b = negsByAnchor.get(a1[i]);
      if (b == null) {
        continue;
      }
      for (long neg : b) {
        ta[k] = a1[i];
        tp[k] = p[i];
        tn[k] = neg;
        k++;
      }
    }
    org.bytedeco.pytorch.Device dev = tuple.get(0).device();
    return IndicesTuple.triplets(Tensors.longs(ta).to(dev, ScalarType.Long), Tensors.longs(tp).to(dev, ScalarType.Long),
        Tensors.longs(tn).to(dev, ScalarType.Long));
  }

  /**
   * PML's {@code get_random_triplet_indices}: per label, {@code k} = {@code tPerAnchor} (or the label's positive count)
   * random positives per anchor, with negatives drawn uniformly or by {@code weights} (an {@code [N, M]} matrix) with
   * {@code torch.multinomial}. Uses LibTorch's global generator, as PML uses torch's.
   */
  public static IndicesTuple randomTripletIndices(Tensor labels, Tensor refLabels, Integer tPerAnchor,
      Tensor weights) {
    boolean sameRef = refLabels == null || refLabels == labels;
    Tensor ref = sameRef ? labels : refLabels;
    List<Tensor> as = new ArrayList<>();
    List<Tensor> ps = new ArrayList<>();
    List<Tensor> ns = new ArrayList<>();
    Tensor unique = Tensors.unique(labels)[0];
    long[] uniq = Tensors.toLongs(unique);
    for (long label : uniq) {
      Tensor pInds = Tensors.where(ref.eq(Tensors.s(label)))[0];
      Tensor aInds = sameRef ? pInds : Tensors.where(labels.eq(Tensors.s(label)))[0];
      Tensor nInds = Tensors.where(ref.ne(Tensors.s(label)))[0];
      long nA = Tensors.len(aInds);
      long nP = Tensors.len(pInds);
      long minP = sameRef ? 2 : 1;
      if (nP < minP || Tensors.len(nInds) < 1) {
        continue;
      }
      long k = tPerAnchor == null ? nP : tPerAnchor;
      long numTriplets = nA * k;
      Tensor pInds2 = pInds.expand(nA, nP);
      if (sameRef) {
        Tensor offDiag = torch.eye(nA).to(ScalarType.Bool).logical_not();
        pInds2 = Tensors.index(pInds2, offDiag).view(nA, nA - 1);
      }
      Tensor pSel = torch.randint(pInds2.size(1), new long[] {numTriplets});
      Tensor aSel = torch.arange(Tensors.s(nA)).view(-1, 1).repeat(1, k).view(numTriplets);
      Tensor p = Tensors.index2(pInds2, aSel, pSel);
      Tensor a = Tensors.index(aInds, aSel);
      Tensor nSel;
      if (weights != null) {
        Tensor w = Tensors.index(weights.index_select(1, nInds), a);
        Tensor nonZero = Tensors.where(w.sum(new long[] {1}, false, new ScalarTypeOptional()).gt(Tensors.s(0.0)))[0];
        if (Tensors.len(nonZero) == 0) {
          continue;
        }
        w = Tensors.index(w, nonZero);
        a = Tensors.index(a, nonZero);
        p = Tensors.index(p, nonZero);
        nSel = torch.multinomial(w, 1, true, null).flatten();
      } else {
        nSel = torch.randint(Tensors.len(nInds), new long[] {numTriplets});
      }
      Tensor n = Tensors.index(nInds, nSel);
      as.add(a);
      ps.add(p);
      ns.add(n);
    }
    if (as.isEmpty()) {
      Tensor e = Tensors.emptyLong(labels);
      return IndicesTuple.triplets(e, e.clone(), e.clone());
    }
    return IndicesTuple.triplets(
        Tensors.cat(0, as.toArray(new Tensor[0])).to(labels.device(), ScalarType.Long),
        Tensors.cat(0, ps.toArray(new Tensor[0])).to(labels.device(), ScalarType.Long),
        Tensors.cat(0, ns.toArray(new Tensor[0])).to(labels.device(), ScalarType.Long));
  }

  /**
   * Per-sample weights from how often each batch element appears in the tuple (count / max count; 0 for absent
   * elements); all ones when the tuple is null or empty. With {@code usingRef} only anchors count.
   */
  public static Tensor convertToWeights(IndicesTuple tuple, Tensor labels, ScalarType dtype, boolean usingRef) {
    Tensor weights = Tensors.zeros(dtype, labels, labels.size(0));
    boolean empty = true;
    if (tuple != null) {
      for (Tensor t : tuple.tensors()) {
        if (Tensors.len(t) != 0) {
          empty = false;
        }
      }
    }
    if (empty) {
      return weights.add(Tensors.s(1.0));
    }
    Tensor indices = usingRef ? anchors(tuple) : Tensors.cat(0, tuple.tensors());
    Tensor[] u = Tensors.unique(indices);
    Tensor idx = u[0];
    Tensor counts = u[2];
    Tensors.put(weights, idx, counts.to(dtype).div(counts.max()));
    return weights;
  }

  /** The anchors: {@code a} for triplets, {@code cat(a1, a2)} for pairs. */
  public static Tensor anchors(IndicesTuple tuple) {
    return tuple.isTriplets() ? tuple.get(0) : Tensors.cat(0, tuple.get(0), tuple.get(2));
  }

  /**
   * PML's {@code remove_self_comparisons} for a memory bank: drops positive pairs (or triplets) whose positive is the
   * memory slot that holds the anchor itself; {@code currBatchIdx} are the slots the batch was written to (they may
   * wrap around).
   */
  public static IndicesTuple removeSelfComparisons(IndicesTuple tuple, Tensor currBatchIdx, long refSize,
      boolean refIsSubset) {
    Tensor[] masks = tuple.pairMasks();
    if (masks != null && !refIsSubset) {
      IndicesTuple masked = removeSelfComparisonsFromMasks(tuple, masks, currBatchIdx, refSize);
      if (masked != null) {
        return masked;
      }
    }
    long s = currBatchIdx.get(0).item_long();
    long e = currBatchIdx.get(Tensors.len(currBatchIdx) - 1).item_long();
    if (tuple.isTriplets()) {
      Tensor keep = notSelfComparisons(tuple.get(0), tuple.get(1), s, e, currBatchIdx, refSize, refIsSubset);
      return IndicesTuple.triplets(Tensors.index(tuple.get(0), keep), Tensors.index(tuple.get(1), keep),
          Tensors.index(tuple.get(2), keep));
    }
    Tensor keep = notSelfComparisons(tuple.get(0), tuple.get(1), s, e, currBatchIdx, refSize, refIsSubset);
    return IndicesTuple.pairs(Tensors.index(tuple.get(0), keep), Tensors.index(tuple.get(1), keep), tuple.get(2),
        tuple.get(3));
  }

  /**
   * {@link #removeSelfComparisons} of a tuple made from pair masks ({@link IndicesTuple#pairsFromMasks}), as masks:
   * the positive pair of anchor {@code a} with its own slot {@code currBatchIdx[a]} is dropped, the negatives are kept;
   * the ordered indices stay PML's (the eager removal on the tuple's own, when asked for). Null when the batch's slots
   * are not consecutive (modulo {@code refSize}): then the eager path decides.
   */
  private static IndicesTuple removeSelfComparisonsFromMasks(IndicesTuple tuple, Tensor[] masks, Tensor currBatchIdx,
      long refSize) {
    long[] idx = Tensors.toLongs(currBatchIdx);
    if (idx.length == 0 || idx.length > refSize || masks[0].size(1) != refSize) {
      return null;
    }
    for (int i = 0; i < idx.length; i++) {
      if (idx[i] != (idx[0] + i) % refSize) {
        return null;
      }
    }
    // anchor a (a row of the query) is at slot (s + a) mod refSize when a < B
    long rows = Math.min(idx.length, masks[0].size(0));
    Tensor pos = masks[0].clone();
    if (rows > 0) {
      Tensor a = Tensors.arange(rows, currBatchIdx);
      Tensors.put2(pos, a, Tensors.longs(java.util.Arrays.copyOf(idx, (int) rows)), 0.0);
    }
    Tensor slots = currBatchIdx;
    return IndicesTuple.pairsFromMasks(pos, masks[1], () -> {
      Tensor[] t = tuple.tensors();
      return removeSelfComparisons(IndicesTuple.pairs(t[0], t[1], t[2], t[3]), slots, refSize, false).tensors();
    });
  }

  /**
   * {@code any(p[:, None] == currBatchIdx, dim=1)}. A memory bank writes a batch to consecutive slots (modulo the
   * memory size), and then membership is arithmetic: {@code (p - s) mod M < B}, O(P) instead of PML's O(P·B)
   * comparison matrix (which dominated a CrossBatchMemory step at batch 256, memory 4096). Other index sets fall back
   * to the comparison.
   */
  static Tensor inBatch(Tensor p, Tensor currBatchIdx, long refSize) {
    long[] idx = Tensors.toLongs(currBatchIdx);
    boolean consecutive = idx.length > 0 && idx.length <= refSize;
    for (int i = 0; consecutive && i < idx.length; i++) {
      consecutive = idx[i] == (idx[0] + i) % refSize;
    }
    if (!consecutive) {
      return p.unsqueeze(1).eq(currBatchIdx).any(1);
    }
    Tensor offset = torch.remainder(p.sub(Tensors.s(idx[0])), Tensors.s(refSize));
    return offset.lt(Tensors.s((long) idx.length));
  }

  static Tensor notSelfComparisons(Tensor a, Tensor p, long s, long e, Tensor currBatchIdx, long refSize,
      boolean refIsSubset) {
    if (refIsSubset) {
      Tensor tmp = a;
      a = p;
      p = tmp;
    }
    Tensor currBatch = inBatch(p, currBatchIdx, refSize);
    Tensor aC = Tensors.index(a, currBatch);
    Tensor pC = Tensors.index(p, currBatch).sub(Tensors.s(s));
    if (e <= s) {
      Tensor wrap = pC.le(Tensors.s(e - s));
      pC = torch.where(wrap, pC.add(Tensors.s(refSize)), pC);
    }
    Tensor without = currBatch.clone();
    Tensor pos = Tensors.where(currBatch)[0];
    Tensors.put(without, Tensors.index(pos, aC.eq(pC)), 0.0);
    return without.logical_or(currBatch.logical_not());
  }

  /** Concatenates two tuples of the same kind element-wise. */
  public static IndicesTuple concatenate(IndicesTuple t1, IndicesTuple t2) {
    if (t1.size() != t2.size()) {
      throw new IllegalArgumentException("cannot concatenate a " + t1.size() + "-tuple with a " + t2.size() + "-tuple");
    }
    Tensor[] out = new Tensor[t1.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Tensors.cat(0, t1.get(i), t2.get(i).to(t1.get(i).device(), ScalarType.Long));
    }
    return IndicesTuple.of(out);
  }

  /**
   * PML's {@code logsumexp}: masked entries are set to the dtype's most negative finite value; {@code addOne}
   * appends a 0 column (giving {@code log(1 + Σ exp)}); rows with no kept entry return 0. Output keeps the dimension.
   *
   * @param keepMask bool mask or null
   */
  public static Tensor logsumexp(Tensor x, Tensor keepMask, boolean addOne, long dim) {
    if (keepMask != null) {
      x = x.masked_fill(keepMask.to(ScalarType.Bool).logical_not(),
          Tensors.s(Tensors.negInf(x.scalar_type().intern())));
    }
    if (addOne) {
      long other = dim == 1 ? 0 : 1;
      Tensor zeros = Tensors.zeros(x, x.size(other)).unsqueeze(dim);
      x = Tensors.cat(dim, x, zeros);
    }
    Tensor out = x.logsumexp(new long[] {dim}, true);
    if (keepMask != null) {
      Tensor anyKept = keepMask.to(ScalarType.Bool).any(dim, true);
      out = out.masked_fill(anyKept.logical_not(), Tensors.s(0.0));
    }
    return out;
  }

  /** Throws PML's error when labels are missing. */
  public static void requireLabels(Tensor labels) {
    if (labels == null) {
      throw new IllegalArgumentException("labels are required for this loss function");
    }
  }
}
