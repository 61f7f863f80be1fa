package org.pml4j.reducers;

import java.util.Locale;

/** How the per-item losses of a loss dict entry are indexed. */
public enum ReductionType {
  /** One loss per batch element; indices = element index. */
  ELEMENT,
  /** One loss per positive pair; indices = (anchor, positive). */
  POS_PAIR,
  /** One loss per negative pair; indices = (anchor, negative). */
  NEG_PAIR,
  /** One loss per triplet; indices = (anchor, positive, negative). */
  TRIPLET,
  /** A scalar already reduced by the loss. */
  ALREADY_REDUCED;

  /** PML's spelling: {@code element}, {@code pos_pair}, … */
  public String pmlName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses PML's spelling. */
  public static ReductionType fromPml(String name) {
    try {
      return valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown reduction_type '" + name
          + "'; valid: element, pos_pair, neg_pair, triplet, already_reduced", e);
    }
  }
}
