package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.MaxPool2dImpl;
import org.bytedeco.pytorch.MaxPool2dOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.MaxPool2d(kernel_size, stride=None, padding=0)} on {@code [B, C, H, W]} (stride defaults to
 * kernel_size; padding pads with -inf and must be at most half the kernel; dilation 1, floor mode). Output size:
 * {@code floor((H + 2 padding - kernel) / stride) + 1}.
 */
public final class MaxPool2d extends Layer {
  private final long[] kernelSize;
  private final long[] stride;
  private final long[] padding;
  private final MaxPool2dImpl impl;

  public MaxPool2d(long kernelSize) {
    this(new long[] {kernelSize, kernelSize}, null, new long[] {0, 0});
  }

  /** {@code stride} null: the kernel size. */
  public MaxPool2d(long[] kernelSize, long[] stride, long[] padding) {
    long[] s = stride == null ? kernelSize : stride;
    for (int i = 0; i < 2; i++) {
      requirePositive("MaxPool2d", "kernel_size", kernelSize[i]);
      requirePositive("MaxPool2d", "stride", s[i]);
      if (padding[i] < 0 || 2 * padding[i] > kernelSize[i]) {
        throw bad("MaxPool2d", "padding must be between 0 and half the kernel size, got " + shape(padding)
            + " for kernel " + shape(kernelSize));
      }
    }
    this.kernelSize = kernelSize.clone();
    this.stride = s.clone();
    this.padding = padding.clone();
    MaxPool2dOptions o = new MaxPool2dOptions(new LongPointer(kernelSize));
    o.stride().put(this.stride);
    o.padding().put(this.padding);
    this.impl = keep(new MaxPool2dImpl(o));
  }

  /** {@code {"kernel_size": 2, "stride": 2, "padding": 0}} (int or pair each; stride defaults to kernel_size). */
  public static MaxPool2d fromSpec(Params p) {
    long[] k = Specs.intOrTuple(p, "kernel_size", 2, null);
    return new MaxPool2d(k, Specs.intOrTuple(p, "stride", 2, k), Specs.intOrTuple(p, "padding", 2, new long[] {0, 0}));
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.set("kernel_size", Specs.array(kernelSize));
    n.set("stride", Specs.array(stride));
    n.set("padding", Specs.array(padding));
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    if (in.length != 3) {
      throw bad("MaxPool2d", "expects input [C, H, W], got " + shape(in));
    }
    long[] out = {in[0], 0, 0};
    for (int i = 0; i < 2; i++) {
      if (in[i + 1] + 2 * padding[i] < kernelSize[i]) {
        throw bad("MaxPool2d", "input " + shape(in) + " is smaller than the kernel " + shape(kernelSize));
      }
      out[i + 1] = (in[i + 1] + 2 * padding[i] - kernelSize[i]) / stride[i] + 1;
    }
    return out;
  }

  @Override
  public Module module() {
    return impl;
  }

  @Override
  public Tensor forward(Tensor x) {
    return impl.forward(x);
  }

  public long[] kernelSize() {
    return kernelSize.clone();
  }

  public long[] stride() {
    return stride.clone();
  }

  public long[] padding() {
    return padding.clone();
  }
}
