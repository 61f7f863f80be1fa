package org.pml4j.archfixture.a;

import org.pml4j.archfixture.b.B;

/** Half of a deliberate package cycle (a → b → a): the architecture test checks that its cycle rule reports it. */
public class A {
  /** The edge a → b. */
  public B partner() {
    return new B();
  }
}
