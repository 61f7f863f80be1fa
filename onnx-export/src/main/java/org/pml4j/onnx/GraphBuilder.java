package org.pml4j.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

/** Appends nodes and initializers to an ONNX graph with unique value names. Package-private helper of the exporter. */
final class GraphBuilder {
  final GraphProto.Builder graph = GraphProto.newBuilder();
  private final Set<String> names = new HashSet<>();
  private int counter;

  /** A value name not used yet, derived from {@code hint}. */
  String fresh(String hint) {
    String h = hint.isEmpty() ? "v" : hint;
    String n = h;
    while (!names.add(n)) {
      n = h + "_" + (++counter);
    }
    return n;
  }

  /** A float32 initializer, raw little-endian data. */
  String floats(String hint, float[] data, long... dims) {
    String name = fresh(hint);
    ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(data);
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT.getNumber())
        .setRawData(ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    graph.addInitializer(t);
    return name;
  }

  /** A float32 scalar (0-dim) initializer. */
  String scalar(String hint, double v) {
    return floats(hint, new float[] {(float) v});
  }

  /** An int64 1-D initializer. */
  String longs(String hint, long... data) {
    String name = fresh(hint);
    ByteBuffer b = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(data);
    graph.addInitializer(TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64.getNumber())
        .addDims(data.length).setRawData(ByteString.copyFrom(b.array())));
    return name;
  }

  /** Adds a node with one output; returns the output name. */
  String node(String opType, String outHint, String[] inputs, AttributeProto... attrs) {
    String out = fresh(outHint);
    NodeProto.Builder n = NodeProto.newBuilder().setOpType(opType).setName(fresh("node_" + outHint)).addOutput(out);
    for (String in : inputs) {
      n.addInput(in);
    }
    for (AttributeProto a : attrs) {
      n.addAttribute(a);
    }
    graph.addNode(n);
    return out;
  }

  static AttributeProto attrInt(String name, long v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
  }

  static AttributeProto attrFloat(String name, double v) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF((float) v)
        .build();
  }

  static AttributeProto attrInts(String name, long... v) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) {
      a.addInts(x);
    }
    return a.build();
  }
}
