package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.Conv2dOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.spec.Params;

/**
 * PyTorch's {@code nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True)}
 * (zero padding, groups=1) on {@code [B, C, H, W]}. {@code kernel_size}, {@code stride}, {@code padding} and
 * {@code dilation} are an int or a pair {@code [h, w]}. Output size per spatial dimension:
 * {@code floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1}.
 */
public final class Conv2d extends Layer {
  private final long inChannels;
  private final long outChannels;
  private final long[] kernelSize;
  private final long[] stride;
  private final long[] padding;
  private final long[] dilation;
  private final boolean bias;
  private final Conv2dImpl impl;

  public Conv2d(long inChannels, long outChannels, long kernelSize) {
    this(inChannels, outChannels, new long[] {kernelSize, kernelSize}, new long[] {1, 1}, new long[] {0, 0},
        new long[] {1, 1}, true);
  }

  public Conv2d(long inChannels, long outChannels, long[] kernelSize, long[] stride, long[] padding, long[] dilation,
      boolean bias) {
    requirePositive("Conv2d", "in_channels", inChannels);
    requirePositive("Conv2d", "out_channels", outChannels);
    for (int i = 0; i < 2; i++) {
      requirePositive("Conv2d", "kernel_size", kernelSize[i]);
      requirePositive("Conv2d", "stride", stride[i]);
      requirePositive("Conv2d", "dilation", dilation[i]);
      if (padding[i] < 0) {
        throw bad("Conv2d", "padding must be >= 0, got " + padding[i]);
      }
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize.clone();
    this.stride = stride.clone();
    this.padding = padding.clone();
    this.dilation = dilation.clone();
    this.bias = bias;
    Conv2dOptions o = new Conv2dOptions(inChannels, outChannels, new LongPointer(kernelSize));
    o.stride().put(stride);
    o.padding().put(new LongPointer(padding));
    o.dilation().put(dilation);
    o.bias().put(bias);
    this.impl = keep(new Conv2dImpl(o));
  }

  /**
   * {@code {"in_channels": 1, "out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 0, "dilation": 1,
   * "bias": true}}.
   */
  public static Conv2d fromSpec(Params p) {
    return new Conv2d(Specs.requiredLong(p, "in_channels"), Specs.requiredLong(p, "out_channels"),
        Specs.intOrTuple(p, "kernel_size", 2, null), Specs.intOrTuple(p, "stride", 2, new long[] {1, 1}),
        Specs.intOrTuple(p, "padding", 2, new long[] {0, 0}), Specs.intOrTuple(p, "dilation", 2, new long[] {1, 1}),
        p.getBool("bias", true));
  }

  @Override
  public ObjectNode params() {
    ObjectNode n = obj();
    n.put("in_channels", inChannels);
    n.put("out_channels", outChannels);
    n.set("kernel_size", Specs.array(kernelSize));
    n.set("stride", Specs.array(stride));
    n.set("padding", Specs.array(padding));
    n.set("dilation", Specs.array(dilation));
    n.put("bias", bias);
    return n;
  }

  @Override
  public long[] outputShape(long[] in) {
    if (in.length != 3 || in[0] != inChannels) {
      throw bad("Conv2d", "expects input [" + inChannels + ", H, W] (in_channels), got " + shape(in));
    }
    long[] out = {outChannels, 0, 0};
    for (int i = 0; i < 2; i++) {
      out[i + 1] = (in[i + 1] + 2 * padding[i] - dilation[i] * (kernelSize[i] - 1) - 1) / stride[i] + 1;
      if (in[i + 1] + 2 * padding[i] < dilation[i] * (kernelSize[i] - 1) + 1) {
        throw bad("Conv2d", "input " + shape(in) + " is smaller than the (dilated) kernel " + shape(kernelSize));
      }
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

  public long inChannels() {
    return inChannels;
  }

  public long outChannels() {
    return outChannels;
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

  public long[] dilation() {
    return dilation.clone();
  }

  public boolean hasBias() {
    return bias;
  }

  /** The weight {@code [out_channels, in_channels, kh, kw]}. */
  public Tensor weight() {
    return impl.weight();
  }

  /** The bias {@code [out_channels]}, or null without bias. */
  public Tensor bias() {
    return bias ? impl.bias() : null;
  }
}
