package org.pml4j.nn;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.StringTensorDictItem;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.pml4j.torch.Owner;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Torch;

/**
 * One layer of an encoder, described by a spec {@code {"class": "Linear", "params": {...}}} and backed by a LibTorch
 * module (Bytedeco's {@code LinearImpl}, {@code Conv2dImpl}, …) built in the constructor, as in PyTorch where
 * {@code nn.Linear(4, 8)} is both the configuration and the module.
 *
 * <p>Shapes: a layer sees batched tensors {@code [B, ...]}; {@link #outputShape(long[])} works on the per-sample shape
 * (without the batch dimension) and rejects inputs the layer cannot take, so a {@link Sequential} checks the whole
 * chain when it is built.
 *
 * <p>Native memory: the modules (and so the parameters and buffers) are detached from any open
 * {@link org.pml4j.torch.Scope} when they are created, so a layer built inside a step survives it. {@link #forward}
 * returns tensors owned by the caller's scope.
 */
public abstract class Layer {
  private boolean training = true;
  /** This layer's own modules (not its children's). */
  private final Owner owned = new Owner();

  protected Layer() {
    Torch.ensureLoaded();
  }

  /** The spec class name ({@code "Linear"}): the simple class name. */
  public String typeName() {
    return getClass().getSimpleName();
  }

  /** The spec params, every parameter written out (defaults included), in PML/PyTorch snake_case. */
  public abstract ObjectNode params();

  /** This layer as a spec {@code {"class": typeName(), "params": params()}} that {@code Registry.build} accepts. */
  public final ObjectNode toSpec() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("class", typeName());
    n.set("params", params());
    return n;
  }

  /**
   * The per-sample output shape for a per-sample input shape.
   *
   * @throws IllegalArgumentException when the layer cannot take that input (wrong rank, mismatched feature size)
   */
  public abstract long[] outputShape(long[] inputShape);

  /**
   * The per-sample input shape this layer fixes by itself ({@code [in_features]} for Linear), or null when it takes
   * any shape or needs one from outside (Conv2d does not know the image size). Used by {@link Sequential} to infer its
   * input shape when none is given.
   */
  public long[] inputShapeHint() {
    return null;
  }

  /** The LibTorch module holding this layer's parameters and buffers, or null for a purely functional layer. */
  public abstract Module module();

  /** Applies the layer to a batch {@code [B, ...]}. */
  public abstract Tensor forward(Tensor x);

  /** Parameters by name, PyTorch's naming ({@code weight}, {@code bias}; {@code 0.weight} inside a Sequential). */
  public Map<String, Tensor> namedParameters() {
    Module m = module();
    return m == null ? Collections.emptyMap() : toMap(m.named_parameters(true));
  }

  /** Buffers by name ({@code running_mean}, {@code running_var}, {@code num_batches_tracked} of BatchNorm). */
  public Map<String, Tensor> namedBuffers() {
    Module m = module();
    return m == null ? Collections.emptyMap() : toMap(m.named_buffers(true));
  }

  /** Parameters then buffers, by name: what {@link #saveState()} writes. */
  public Map<String, Tensor> stateDict() {
    Map<String, Tensor> all = new LinkedHashMap<>(namedParameters());
    all.putAll(namedBuffers());
    return all;
  }

  /** Training mode (dropout active, BatchNorm uses and updates batch statistics) or evaluation mode. */
  public void train(boolean on) {
    training = on;
    Module m = module();
    if (m != null) {
      m.train(on);
    }
  }

  /** Evaluation mode: {@code train(false)}. */
  public final void eval() {
    train(false);
  }

  public boolean isTraining() {
    return training;
  }

  /** Converts every floating parameter and buffer to {@code dtype} (integer buffers keep their type). */
  public void to(ScalarType dtype) {
    StateDicts.castFloating(this, dtype);
  }

  /** Moves every parameter and buffer to {@code device} (see {@code Torch.device("cuda")}). */
  public void to(Device device) {
    Module m = module();
    if (m != null) {
      m.to(device, false);
    }
  }

  /**
   * The device of this layer's first parameter or buffer (where {@link #forward} expects its input), or null when it
   * has none or they are on the CPU, so that a caller on the CPU path moves nothing.
   */
  public Device deviceOrNull() {
    for (Tensor t : stateDict().values()) {
      Device d = t.device();
      return d.is_cpu() ? null : d;
    }
    return null;
  }

  /** Parameters and buffers as bytes; {@link #loadState(byte[])} restores them bit-exactly. See {@link StateDicts}. */
  public byte[] saveState() {
    return StateDicts.save(stateDict());
  }

  /**
   * Copies saved parameters and buffers into this layer's tensors.
   *
   * @throws IllegalArgumentException when names, shapes or dtypes differ from this layer's
   */
  public void loadState(byte[] state) {
    StateDicts.load(stateDict(), state);
  }

  @Override
  public String toString() {
    return toSpec().toString();
  }

  // ---------------------------------------------------------------- helpers for subclasses

  /**
   * Takes ownership of a freshly made native object (a LibTorch module): detaches it from the open scopes, so
   * it outlives the step, and frees it in {@link #close()}.
   */
  protected final <P extends Pointer> P keep(P p) {
    return owned.own(p);
  }

  /** The layers this one is built from (closed with it); none by default. */
  protected List<Layer> children() {
    return List.of();
  }

  /**
   * Frees this layer's native modules, and so its parameters, buffers and their gradients, now rather than when the
   * garbage collector finds them (tensors handed out earlier keep their own storage). The layer cannot run afterwards
   * (LibTorch calls on a freed module throw). Idempotent.
   */
  public void close() {
    for (Layer c : children()) {
      c.close();
    }
    owned.close();
  }

  /**
   * The dict's tensors as owned handles: {@code item.value()} points into the dict's storage, which the garbage
   * collector (or the caller's scope) frees with the dict, so each value is copied into a handle of its own (same
   * TensorImpl, one more reference) before the dict can go.
   */
  static Map<String, Tensor> toMap(StringTensorDict d) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (long i = 0; i < d.size(); i++) {
      StringTensorDictItem it = d.get(i);
      out.put(it.key().getString(), new Tensor(it.value()));
    }
    return out;
  }

  static ObjectNode obj() {
    return JsonNodeFactory.instance.objectNode();
  }

  static String shape(long[] s) {
    return Arrays.toString(s);
  }

  static IllegalArgumentException bad(String layer, String msg) {
    return new IllegalArgumentException(layer + ": " + msg);
  }

  static long product(long[] s, int from, int to) {
    long p = 1;
    for (int i = from; i < to; i++) {
      p *= s[i];
    }
    return p;
  }

  static void requirePositive(String layer, String name, long v) {
    if (v <= 0) {
      throw bad(layer, name + " must be positive, got " + v);
    }
  }
}
