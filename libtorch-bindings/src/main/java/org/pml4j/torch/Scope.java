package org.pml4j.torch;

import org.bytedeco.javacpp.PointerScope;

/**
 * Owns the native tensors made during one step: every tensor, scalar or vector created on this thread while the scope
 * is open is freed when it closes. Wrap each training or evaluation step:
 *
 * <pre>{@code
 * try (Scope step = Scope.open()) {
 *   Tensor loss = lossFn.forward(embeddings, labels);
 *   loss.backward();
 *   double value = loss.item_double();
 * }
 * }</pre>
 *
 * Anything that must outlive the step (parameters, queues, optimizer state) is held by an {@link Owner}
 * ({@link Owner#own}), which detaches it from the scope and frees it when the owner closes. Scopes are per thread and
 * nest.
 */
public final class Scope implements AutoCloseable {
  private final PointerScope scope;

  private Scope() {
    Torch.ensureLoaded();
    this.scope = new PointerScope();
  }

  /** Opens a new scope on this thread. */
  public static Scope open() {
    return new Scope();
  }

  @Override
  public void close() {
    scope.close();
  }
}
