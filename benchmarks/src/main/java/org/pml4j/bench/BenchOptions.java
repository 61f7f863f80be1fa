package org.pml4j.bench;

/**
 * Sizes and timing knobs of {@link Bench}. {@link #defaults()} is the PML baseline's setup.
 *
 * @param batchSize rows per training step and per loss-benchmark batch (256)
 * @param hidden hidden width of the MLP encoder (512)
 * @param embedding embedding size (128)
 * @param memorySize CrossBatchMemory slots of {@code cbm_contrastive} (4096)
 * @param seed seed of the encoder init, batch order and the loss benchmark's random embeddings (0)
 * @param threads ATen/OpenBLAS threads, or 0 to measure 1 and 2 and use the faster (0)
 * @param lossSeconds the loss benchmark runs at least this long after warm-up (10)
 * @param lossMinSteps ... and at least this many steps (10)
 * @param lossWarmup warm-up steps of the loss benchmark, on top of those that fill the CrossBatchMemory (3)
 * @param probeSteps timed training steps per thread count, config and round of the thread probe (10; two rounds)
 */
public record BenchOptions(int batchSize, int hidden, int embedding, int memorySize, long seed, int threads,
    double lossSeconds, int lossMinSteps, int lossWarmup, int probeSteps) {
  /**
   * @throws IllegalArgumentException for sizes out of range
   */
  public BenchOptions {
    if (batchSize < 2 || hidden < 1 || embedding < 1 || memorySize < 1 || threads < 0 || !(lossSeconds >= 0)
        || lossMinSteps < 1 || lossWarmup < 0 || probeSteps < 1) {
      throw new IllegalArgumentException("bad bench options: " + this);
    }
  }

  /** The PML baseline's setup. */
  public static BenchOptions defaults() {
    return new BenchOptions(256, 512, 128, 4096, 0, 0, 10, 10, 3, 10);
  }

  /** With another thread count (0: measure). */
  public BenchOptions withThreads(int t) {
    return new BenchOptions(batchSize, hidden, embedding, memorySize, seed, t, lossSeconds, lossMinSteps, lossWarmup,
        probeSteps);
  }

  /** With another loss-benchmark duration. */
  public BenchOptions withLossSeconds(double s) {
    return new BenchOptions(batchSize, hidden, embedding, memorySize, seed, threads, s, lossMinSteps, lossWarmup,
        probeSteps);
  }

  /** With another seed. */
  public BenchOptions withSeed(long s) {
    return new BenchOptions(batchSize, hidden, embedding, memorySize, s, threads, lossSeconds, lossMinSteps, lossWarmup,
        probeSteps);
  }

  /** Steps that fill the CrossBatchMemory from empty. */
  int memoryFillSteps() {
    return (memorySize + batchSize - 1) / batchSize;
  }
}
