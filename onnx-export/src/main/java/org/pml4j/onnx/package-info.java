/**
 * ONNX export of pml4j encoders ({@link org.pml4j.onnx.OnnxExporter}), inference with ONNX Runtime
 * ({@link org.pml4j.onnx.OnnxEncoder}) and atomic, versioned publication of model files
 * ({@link org.pml4j.onnx.ModelPublisher}).
 *
 * <p>ONNX Runtime is pinned to 1.28.0: 1.29.0 crashes the JVM (SIGSEGV, stack overflow) while creating its environment
 * when the process command line exceeds about 3.9 KB; {@code LongCommandLineTest} reproduces it.
 */
package org.pml4j.onnx;
