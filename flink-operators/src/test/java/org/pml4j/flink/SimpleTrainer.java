package org.pml4j.flink;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.OutputArchive;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.pml4j.losses.MetricLoss;
import org.pml4j.miners.BaseMiner;
import org.pml4j.nn.Sequential;
import org.pml4j.nn.StateDicts;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.torch.Torch;
import org.pml4j.train.CheckpointableTrainer;
import org.pml4j.train.StepResult;
import org.pml4j.train.TrainerConfig;
import org.pml4j.tuples.IndicesTuple;

/**
 * A minimal independent trainer (kept as a second CheckpointableTrainer implementation for the operator contract; the
 * Flink tests use the real one, {@link TrainerFactory#DEFAULT}): a {@link Sequential} encoder and a
 * loss (and optional miner) from the registry, LibTorch's Adam. Snapshot = step counter + {@code Layer.saveState} +
 * loss parameters + the Adam archive. No CrossBatchMemory, no randomness during training.
 */
final class SimpleTrainer implements CheckpointableTrainer {
  private static final byte[] MAGIC = {'S', 'I', 'M', 'P', 'L', 'E', 'T', '1'};
  /** Restores done in this JVM (the fault-tolerance test checks that recovery really went through restore). */
  static final AtomicInteger RESTORES = new AtomicInteger();

  private final TrainerConfig config;
  private final Sequential encoder;
  private final MetricLoss loss;
  private final BaseMiner miner;
  private final Adam adam;
  private long steps;

  SimpleTrainer(TrainerConfig config) {
    Torch.ensureLoaded();
    this.config = config;
    torch.manual_seed(config.seed());
    this.encoder = Registry.build(config.encoder(), Sequential.class);
    this.loss = Registry.build(config.loss(), MetricLoss.class);
    this.miner = config.miner() == null ? null : Registry.build(config.miner(), BaseMiner.class);
    double lr = config.optimizer().path("params").path("lr").asDouble(1e-3);
    if (!"Adam".equals(config.optimizer().path("class").asText("Adam"))) {
      throw new IllegalArgumentException("SimpleTrainer knows only Adam");
    }
    TensorVector params = new TensorVector();
    for (Tensor p : encoder.namedParameters().values()) {
      params.push_back(p);
    }
    for (Tensor p : loss.parameters().values()) {
      params.push_back(p);
    }
    this.adam = new Adam(params, new AdamOptions(lr));
  }

  /** A factory usable by the operator. */
  static TrainerFactory factory() {
    return SimpleTrainer::new;
  }

  @Override
  public StepResult trainStep(float[][] features, long[] labels) {
    if (features.length != labels.length) {
      throw new IllegalArgumentException(features.length + " rows but " + labels.length + " labels");
    }
    double value;
    try (Scope s = Scope.open()) {
      encoder.train(true);
      long[] shape = new long[encoder.inputShape().length + 1];
      shape[0] = features.length;
      System.arraycopy(encoder.inputShape(), 0, shape, 1, shape.length - 1);
      Tensor x = Tensors.floats(features).reshape(shape);
      Tensor y = Tensors.longs(labels);
      Tensor emb = encoder.forward(x);
      IndicesTuple t = miner == null ? null : miner.forward(emb, y);
      Tensor l = loss.forward(emb, y, t, null, null);
      adam.zero_grad();
      l.backward();
      adam.step();
      value = l.item_double();
    }
    steps++;
    return new StepResult(steps, value, features.length, 0);
  }

  @Override
  public long steps() {
    return steps;
  }

  @Override
  public byte[] snapshot() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.write(MAGIC);
      out.writeLong(steps);
      writeBlock(out, encoder.saveState());
      writeBlock(out, StateDicts.save(loss.parameters()));
      writeBlock(out, adamBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  @Override
  public void restore(byte[] state) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state))) {
      byte[] magic = new byte[MAGIC.length];
      in.readFully(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new IllegalArgumentException("not a SimpleTrainer snapshot");
      }
      long s = in.readLong();
      encoder.loadState(readBlock(in));
      StateDicts.load(loss.parameters(), readBlock(in));
      byte[] opt = readBlock(in);
      try (Scope sc = Scope.open()) {
        InputArchive ia = new InputArchive();
        BytePointer p = new BytePointer(opt);
        ia.load_from(p, opt.length);
        adam.load(ia);
      }
      steps = s;
      RESTORES.incrementAndGet();
    } catch (IOException e) {
      throw new IllegalArgumentException("bad SimpleTrainer snapshot", e);
    }
  }

  private byte[] adamBytes() {
    List<byte[]> chunks = new ArrayList<>();
    try (Scope s = Scope.open()) {
      OutputArchive ar = new OutputArchive();
      adam.save(ar);
      ArchiveWriter w = new ArchiveWriter() {
        @Override
        public long call(Pointer data, long n) {
          byte[] b = new byte[Math.toIntExact(n)];
          new BytePointer(data).capacity(n).get(b);
          chunks.add(b);
          return n;
        }
      };
      ar.save_to(w);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] c : chunks) {
      out.writeBytes(c);
    }
    return out.toByteArray();
  }

  private static void writeBlock(DataOutputStream out, byte[] b) throws IOException {
    out.writeInt(b.length);
    out.write(b);
  }

  private static byte[] readBlock(DataInputStream in) throws IOException {
    byte[] b = new byte[in.readInt()];
    in.readFully(b);
    return b;
  }

  @Override
  public Sequential encoder() {
    return encoder;
  }

  @Override
  public TrainerConfig config() {
    return config;
  }

  @Override
  public void close() {}
}
