package org.pml4j.samplers;

import java.util.Arrays;
import java.util.Iterator;

/**
 * A sampler of dataset indices, the counterpart of a PyTorch index {@code Sampler}: each {@link #iterator()} (or
 * {@link #epoch()}) is one pass, drawn afresh from the sampler's {@link java.util.Random}.
 */
public interface IndexSampler extends Iterable<Integer> {
  /** PML's {@code __len__}: the nominal number of indices in one pass. */
  int size();

  /** The indices of one new pass, in order (one call draws one pass; calls are not repeatable). */
  int[] epoch();

  /** A new pass as an iterator (equivalent to iterating {@link #epoch()}). */
  @Override
  default Iterator<Integer> iterator() {
    return Arrays.stream(epoch()).iterator();
  }
}
