package org.pml4j.distributed;

import org.bytedeco.pytorch.Tensor;
import org.pml4j.torch.Tensors;

/** Argument checks shared by the collectives. */
final class CollectiveChecks {
  private CollectiveChecks() {}

  static void requireDefined(Tensor t, String name) {
    if (t == null || t.isNull() || !t.defined()) {
      throw new IllegalArgumentException(name + " must be a defined tensor, got "
          + (t == null ? "null" : "an undefined tensor"));
    }
  }

  static void requireGatherable(Tensor t, String name) {
    requireDefined(t, name);
    if (t.dim() == 0) {
      throw new IllegalArgumentException(
          name + " must have at least one dimension to gather along dim 0, got a scalar");
    }
  }

  static void requireInPlace(Tensor t, String name) {
    requireDefined(t, name);
    if (!t.is_contiguous()) {
      throw new IllegalArgumentException(name + " must be contiguous for an in-place collective, got shape "
          + Tensors.shapeString(t) + " with non-contiguous strides");
    }
    if (t.requires_grad()) {
      throw new IllegalArgumentException(name + " must not require grad for an in-place collective"
          + " (pass tensor.detach() or a gradient)");
    }
  }

  static void requireReducible(Tensor t, Collective.Reduction reduction) {
    requireInPlace(t, "tensor");
    if (reduction == null) {
      throw new IllegalArgumentException("reduction must be SUM or AVG, got null");
    }
    if (reduction == Collective.Reduction.AVG && !Tensors.isFloating(Tensors.dtype(t))) {
      throw new IllegalArgumentException("reduction AVG needs a floating tensor, got " + Tensors.dtype(t));
    }
  }
}
