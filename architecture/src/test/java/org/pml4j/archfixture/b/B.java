package org.pml4j.archfixture.b;

import org.pml4j.archfixture.a.A;

/** The other half of the deliberate package cycle (b → a). */
public class B {
  /** The edge b → a. */
  public A partner() {
    return new A();
  }
}
