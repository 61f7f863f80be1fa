package org.pml4j.examples;

// [imports]
import java.util.ArrayList;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.pml4j.losses.TripletMarginLoss;
import org.pml4j.miners.MultiSimilarityMiner;
import org.pml4j.nn.Sequential;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Scope;
import org.pml4j.torch.Tensors;
import org.pml4j.train.OptimizerSpec;
import org.pml4j.train.TrainOptimizer;
import org.pml4j.tuples.IndicesTuple;
// [/imports]

/**
 * The README's Java quick start: an encoder trained with a PML loss and miner on batches made from Java arrays.
 * {@code QuickStartTest} runs it and checks that the README quotes the marked parts verbatim.
 */
public final class QuickStart {
  private QuickStart() {}

  /** Trains for {@code steps} steps and prints the loss every 20 steps. */
  public static void main(String[] args) {
    double[] losses = train(args.length > 0 ? Integer.parseInt(args[0]) : 100);
    for (int i = 0; i < losses.length; i += 20) {
      System.out.printf("step %d: loss %.4f%n", i, losses[i]);
    }
  }

  /**
   * The quick start's training loop.
   *
   * @return the loss of every step
   */
  // [train]
  public static double[] train(int steps) {
    double[] losses = new double[steps];
    // An encoder from a spec (PML-style JSON): 32 features -> 64 -> 16, L2-normalized embeddings.
    Sequential encoder = Registry.build("""
        {"class": "Sequential", "params": {"layers": [
          {"class": "Linear", "params": {"in_features": 32, "out_features": 64}}, {"class": "ReLU"},
          {"class": "Linear", "params": {"in_features": 64, "out_features": 16}}, {"class": "L2Normalize"}]}}""",
        Sequential.class);
    TripletMarginLoss loss = new TripletMarginLoss(0.1);              // PML: TripletMarginLoss(margin=0.1)
    MultiSimilarityMiner miner = new MultiSimilarityMiner(0.1, null);  // PML: MultiSimilarityMiner(epsilon=0.1)
    // SGD, Adam or AdamW over the encoder's parameters (and a loss's learnable ones, e.g. ArcFace's W, if any).
    OptimizerSpec adam = Registry.build("{\"class\": \"Adam\", \"params\": {\"lr\": 0.001}}", OptimizerSpec.class);
    TrainOptimizer optimizer = adam.build(new ArrayList<>(encoder.namedParameters().values()),
        new ArrayList<>(loss.parameters().values()));

    Random rng = new Random(0);
    for (int step = 0; step < steps; step++) {
      try (Scope s = Scope.open()) {                                  // frees every tensor of the step at its end
        float[][] rows = new float[64][32];                           // a batch: 64 rows of 32 features ...
        long[] labels = new long[64];                                 // ... and their class labels
        for (int i = 0; i < rows.length; i++) {
          labels[i] = i % 8;                                          // 8 classes, 8 rows each
          for (int j = 0; j < 32; j++) {
            rows[i][j] = (float) ((j % 8 == labels[i] ? 2 : 0) + rng.nextGaussian());
          }
        }
        Tensor x = Tensors.floats(rows);                              // [64, 32] float32
        Tensor y = Tensors.longs(labels);                             // [64] int64

        optimizer.zeroGrad();
        Tensor embeddings = encoder.forward(x);                       // [64, 16]
        IndicesTuple hard = miner.forward(embeddings, y);             // mined pairs (runs without autograd)
        Tensor value = loss.forward(embeddings, y, hard);             // scalar, attached to the graph
        value.backward();
        optimizer.step();
        losses[step] = value.item_double();
      }
    }
    optimizer.close();
    return losses;
  }
  // [/train]
}
