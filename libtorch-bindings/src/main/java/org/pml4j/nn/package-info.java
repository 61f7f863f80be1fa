/**
 * Encoders described by specs and built as LibTorch modules.
 *
 * <p>Every layer is a {@link org.pml4j.nn.Layer} with a {@code fromSpec(Params)} factory, so the registry builds it
 * from {@code {"class": "Linear", "params": {"in_features": 784, "out_features": 128}}}; {@link
 * org.pml4j.nn.Sequential} chains them, checks the shapes of the whole chain, and names parameters as PyTorch's
 * state_dict does. The same spec drives the ONNX export (module pml4j-onnx), so the LibTorch module and the ONNX graph
 * never drift apart.
 *
 * <p>Layers: Sequential, Linear, ReLU, GELU, LeakyReLU, Tanh, Sigmoid, LayerNorm, BatchNorm1d, Dropout, L2Normalize,
 * ResidualMLP, Conv2d, MaxPool2d, Flatten, Unflatten, Reshape.
 */
package org.pml4j.nn;
