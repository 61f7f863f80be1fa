package org.pml4j.torch;

import org.bytedeco.javacpp.Pointer;
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
 * Anything that must outlive the step (parameters, queues, optimizer state) is made outside any scope, or handed out
 * with {@link #keep(Pointer)}. Scopes are per thread and nest.
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

  /**
   * Detaches {@code p} from this scope so that it survives {@link #close()}; it is then freed by the garbage
   * collector (or by an explicit {@code p.close()}).
   */
  public <P extends Pointer> P keep(P p) {
    return detach(scope, p);
  }

  /**
   * Detaches {@code p} from the innermost open scope on this thread, if any, so that it outlives that scope: for
   * parameters, modules, optimizers, memory banks and other state created during a step. It is then freed by the
   * garbage collector (or by an explicit {@code p.close()}). The one "keep past the scope" helper of the project.
   *
   * @return {@code p}
   */
  public static <P extends Pointer> P retain(P p) {
    PointerScope inner = PointerScope.getInnerScope();
    return inner == null ? p : detach(inner, p);
  }

  private static <P extends Pointer> P detach(PointerScope s, P p) {
    // detach() releases the scope's reference; take one of our own first so the pointer is not freed now.
    p.retainReference();
    s.detach(p);
    return p;
  }

  @Override
  public void close() {
    scope.close();
  }
}
