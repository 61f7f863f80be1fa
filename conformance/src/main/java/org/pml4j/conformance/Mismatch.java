package org.pml4j.conformance;

/** A value that differs from PML's: the message names the field and the first differing element. */
public class Mismatch extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public Mismatch(String message) {
    super(message, null, false, false);
  }
}
