package org.pml4j.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * pytorch-metric-learning 2.8.1's figures for the {@code pml4j bench} workloads, recorded once on another machine of
 * this kind (2 cores, 2 threads in total), not side by side with any pml4j run: {@code pml4j bench} falls back to
 * them (and says so) when no {@code --pml-json} output of bench_pml.py is given ({@link Baseline}). Workloads: MLP
 * 784-512-128 (ReLU, L2-normalized output), batch 256, Adam lr 1e-3, one epoch of Fashion-MNIST, retrieval on the test
 * split against itself without the self match.
 */
public final class PmlBaseline {
  /**
   * One config's figures.
   *
   * @param lossStepsPerSec loss (+ miner) forward and backward on fixed random normalized 256×128 embeddings
   * @param trainStepsPerSec full training steps over the epoch
   * @param precisionAt1 precision_at_1 of the trained encoder
   * @param mapAtR mean_average_precision_at_r of the trained encoder
   */
  public record Figures(double lossStepsPerSec, double trainStepsPerSec, double precisionAt1, double mapAtR) {}

  /** By config name, in the order {@code pml4j bench} runs them. */
  public static final Map<String, Figures> CONFIGS;

  static {
    Map<String, Figures> m = new LinkedHashMap<>();
    m.put("triplet_ms", new Figures(0.90, 0.73, 0.836, 0.630));
    m.put("cbm_contrastive", new Figures(5.83, 5.24, 0.823, 0.618));
    CONFIGS = java.util.Collections.unmodifiableMap(m);
  }

  /** precision_at_1 of the untrained encoder (PML's initialization). */
  public static final double UNTRAINED_PRECISION_AT_1 = 0.806;
  /** mean_average_precision_at_r of the untrained encoder. */
  public static final double UNTRAINED_MAP_AT_R = 0.322;

  private PmlBaseline() {}
}
