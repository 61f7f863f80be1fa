package org.pml4j.torch;

/**
 * A component that keeps native objects past a step (learnable parameters, a memory queue, a histogram, a stored
 * tuple) in an {@link Owner}. Whoever owns the component (a trainer) adopts its owner, so that closing the trainer
 * frees them; a component used on its own leaves them to the garbage collector, or frees them with
 * {@code natives().close()} (after which the component cannot run).
 */
public interface Owned {
  /** The owner of this component's long-lived native objects. */
  Owner natives();
}
