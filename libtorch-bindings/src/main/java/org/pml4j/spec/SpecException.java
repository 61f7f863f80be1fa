package org.pml4j.spec;

/** A spec that cannot be built: unknown class or parameter, wrong value type, or a constructor's rejection. */
public class SpecException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public SpecException(String message) {
    super(message);
  }

  public SpecException(String message, Throwable cause) {
    super(message, cause);
  }
}
