package org.pml4j.torch;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;

/**
 * The owner of native objects that outlive a {@link Scope}: parameters, memory queues, optimizers, modules, and the
 * owners of the components built from them. The one way in pml4j to keep a tensor past its scope:
 *
 * <pre>{@code
 * private final Owner natives = new Owner();
 * ...
 * queue = natives.replace(queue, torch.zeros(size, width)); // inside a step's scope: survives it
 * ...
 * natives.close(); // frees the queue now, not when the garbage collector runs
 * }</pre>
 *
 * {@link #own} detaches a native object from the open scopes of this thread (so the end of a scope does not
 * free it) and holds it; {@link #close()} frees everything held and closes everything adopted ({@link #adopt}: the
 * owners of other components, modules, optimizers), newest first. Free what an owner holds through the owner
 * ({@link #free}, {@link #replace}, {@link #close()}), not with {@code Pointer.close()}. A component keeps its
 * long-lived tensors in its own owner ({@link Owned}); a trainer adopts the owners of its components, its encoder and
 * its optimizer, so closing the trainer frees all of their native memory at once.
 *
 * <p>Closing empties the owner; it can hold new objects afterwards (a component whose queue was released can make a
 * new one). Not thread-safe: an owner belongs to the thread of its component, as LibTorch objects do.
 */
public final class Owner implements AutoCloseable {
  /** Held pointers and adopted resources, in the order they came. */
  private final List<Object> held = new ArrayList<>();

  /** An empty owner. */
  public Owner() {}

  /**
   * Takes {@code p}: detaches it from every open {@link Scope} on this thread, so that it outlives them, and frees it
   * in {@link #close()} (or at {@link #free}/{@link #replace}). Owning the same object twice holds it once.
   *
   * @return {@code p}
   */
  public <P extends Pointer> P own(P p) {
    if (p == null || indexOf(p) >= 0) {
      return p;
    }
    Torch.ensureLoaded();
    p.retainReference(); // ours
    // Out of every open scope of this thread (an outer scope would free it as well). PointerScope.detach releases a
    // reference whether or not the scope held the object, so each is paid for first: the count never reaches 0 here.
    // The count does not matter afterwards: close() and free() deallocate outright.
    Iterator<PointerScope> scopes = PointerScope.getScopeIterator();
    while (scopes != null && scopes.hasNext()) {
      PointerScope s = scopes.next();
      p.retainReference();
      s.detach(p);
    }
    held.add(p);
    return p;
  }

  /**
   * Frees {@code old} (when this owner holds it and it is not {@code fresh}) and owns {@code fresh}: for state that
   * a step replaces (a histogram, a queue moved to another device).
   *
   * @param old the object replaced, or null
   * @return {@code fresh}
   */
  public <P extends Pointer> P replace(P old, P fresh) {
    if (old != fresh) {
      free(old);
    }
    return own(fresh);
  }

  /**
   * Frees {@code p} now when this owner holds it (else does nothing).
   *
   * @return null, for {@code field = natives.free(field)}
   */
  public <P extends Pointer> P free(P p) {
    int i = p == null ? -1 : indexOf(p);
    if (i >= 0) {
      held.remove(i);
      p.deallocate();
    }
    return null;
  }

  /**
   * Closes {@code resource} (another component's owner, a module, an optimizer) when this owner closes, before what
   * was held or adopted earlier.
   *
   * @return {@code resource}
   */
  public <C extends AutoCloseable> C adopt(C resource) {
    if (resource != null && indexOf(resource) < 0) {
      held.add(resource);
    }
    return resource;
  }

  /** Whether this owner holds {@code p} (directly, not through an adopted owner). */
  public boolean holds(Object p) {
    return indexOf(p) >= 0;
  }

  /** The number of objects held and resources adopted. */
  public int size() {
    return held.size();
  }

  private int indexOf(Object o) {
    for (int i = 0; i < held.size(); i++) {
      if (held.get(i) == o) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Frees every held object and closes every adopted resource, newest first, now; then holds nothing. A resource that
   * fails to close does not stop the others: the first failure is thrown at the end (an unchecked one as is, a
   * checked one wrapped in an {@link IllegalStateException}). Idempotent.
   */
  @Override
  public void close() {
    RuntimeException first = null;
    for (int i = held.size() - 1; i >= 0; i--) {
      Object o = held.get(i);
      try {
        if (o instanceof Pointer p) {
          p.deallocate();
        } else {
          ((AutoCloseable) o).close();
        }
      } catch (Exception e) {
        if (first == null) {
          first = e instanceof RuntimeException r ? r : new IllegalStateException("closing " + o + " failed", e);
        }
      }
    }
    held.clear();
    if (first != null) {
      throw first;
    }
  }
}
