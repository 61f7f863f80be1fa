package org.pml4j.flink;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.Partitioner;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The lockstep half of data-parallel training in Flink (issue 13): at parallelism 1, cuts the training stream into
 * global batches of {@code replicas × shard} records and emits each whole batch at once, record {@code i} tagged with
 * replica {@code i / shard} (contiguous shards in rank order, as one trainer at batch {@code replicas × shard} would
 * see them). A checkpoint barrier cannot fall inside one {@code processElement} call, so every barrier follows whole
 * global batches on every replica's channel: all replicas checkpoint after the same global step, with empty partial
 * batches, and a restored job continues in lockstep.
 *
 * <p>Records that the trainer would refuse (no label, no features, a width other than the encoder's, a non-finite
 * value) are dropped here, so that every replica's shard stays full. The records of the last, partial global batch at
 * the end of a bounded input are not trained (by no replica), so no replica waits for a peer. The partial batch is
 * operator state.
 */
public final class GlobalBatchCutter extends ProcessFunction<LabeledVector, Tuple2<Integer, LabeledVector>>
    implements CheckpointedFunction {
  private static final long serialVersionUID = 1L;
  private final int replicas;
  private final int shard;
  private final int inputSize;
  private transient List<LabeledVector> pending;
  private transient ListState<LabeledVector> state;

  /**
   * @param replicas trainer replicas (at least 2)
   * @param shard records per replica per global batch (at least 2)
   * @param inputSize the encoder's input width
   * @throws IllegalArgumentException for values out of range
   */
  public GlobalBatchCutter(int replicas, int shard, int inputSize) {
    if (replicas < 2 || shard < 2 || inputSize < 1) {
      throw new IllegalArgumentException("replicas and shard must be >= 2 and inputSize >= 1, got replicas "
          + replicas + ", shard " + shard + ", inputSize " + inputSize);
    }
    this.replicas = replicas;
    this.shard = shard;
    this.inputSize = inputSize;
  }

  /** The output type: (replica, record). */
  public static TypeInformation<Tuple2<Integer, LabeledVector>> type() {
    return org.apache.flink.api.common.typeinfo.Types.TUPLE(org.apache.flink.api.common.typeinfo.Types.INT,
        TypeInformation.of(LabeledVector.class));
  }

  @Override
  public void processElement(LabeledVector v, Context ctx, Collector<Tuple2<Integer, LabeledVector>> out) {
    if (!trainable(v)) {
      return;
    }
    pending.add(v);
    if (pending.size() == replicas * shard) {
      // Interleaved (record j of every shard, then record j + 1): each replica still gets its shard in order, but no
      // replica's records wait behind a whole shard of another's in the shared output buffers. Shard by shard, a
      // replica blocked in a collective (v0's publication at its first record) stopped draining its channel, the
      // shard's remaining records filled the output pool, and its peer never got the records it needed: a deadlock
      // that the replica timeout ended, at shards of 512 records of 784 floats and more.
      for (int j = 0; j < shard; j++) {
        for (int r = 0; r < replicas; r++) {
          out.collect(Tuple2.of(r, pending.get(r * shard + j)));
        }
      }
      pending.clear();
    }
  }

  private boolean trainable(LabeledVector v) {
    if (v == null || v.label == null || v.features == null || v.features.length != inputSize) {
      return false;
    }
    for (float f : v.features) {
      if (!Float.isFinite(f)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void snapshotState(FunctionSnapshotContext context) throws Exception {
    state.update(new ArrayList<>(pending));
  }

  @Override
  public void initializeState(FunctionInitializationContext context) throws Exception {
    state = context.getOperatorStateStore().getListState(
        new ListStateDescriptor<>("pml4j-global-batch", TypeInformation.of(LabeledVector.class)));
    pending = new ArrayList<>();
    if (context.isRestored()) {
      for (LabeledVector v : state.get()) {
        pending.add(v);
      }
    }
  }

  /** The replica a record goes to: its tag. */
  public static final class Replica implements KeySelector<Tuple2<Integer, LabeledVector>, Integer> {
    private static final long serialVersionUID = 1L;

    @Override
    public Integer getKey(Tuple2<Integer, LabeledVector> t) {
      return t.f0;
    }
  }

  /** Sends replica {@code i}'s records to trainer subtask {@code i}. */
  public static final class ToReplica implements Partitioner<Integer> {
    private static final long serialVersionUID = 1L;

    @Override
    public int partition(Integer replica, int numPartitions) {
      if (replica < 0 || replica >= numPartitions) {
        throw new IllegalStateException("replica " + replica + " outside the " + numPartitions + " trainer subtasks");
      }
      return replica;
    }
  }

  /** Drops the tag. */
  public static final class Record implements MapFunction<Tuple2<Integer, LabeledVector>, LabeledVector> {
    private static final long serialVersionUID = 1L;

    @Override
    public LabeledVector map(Tuple2<Integer, LabeledVector> t) {
      return t.f1;
    }
  }
}
