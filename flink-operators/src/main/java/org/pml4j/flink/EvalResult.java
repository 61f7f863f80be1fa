package org.pml4j.flink;

import java.util.Objects;

/** Retrieval accuracy of one model version on the held-out stream, from the {@link RetrievalEvaluator}. */
public class EvalResult {
  public long modelVersion;
  public long step;
  /** PML's precision_at_1 (leave-one-out over the held-out set). */
  public double precisionAt1;
  /** PML's mean_average_precision_at_r. */
  public double meanAveragePrecisionAtR;
  /** Held-out records evaluated. */
  public int samples;
  /** Wall-clock time of the evaluation (epoch ms). */
  public long evaluatedAtMillis;

  public EvalResult() {}

  public EvalResult(long modelVersion, long step, double precisionAt1, double meanAveragePrecisionAtR, int samples,
      long evaluatedAtMillis) {
    this.modelVersion = modelVersion;
    this.step = step;
    this.precisionAt1 = precisionAt1;
    this.meanAveragePrecisionAtR = meanAveragePrecisionAtR;
    this.samples = samples;
    this.evaluatedAtMillis = evaluatedAtMillis;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EvalResult e && e.modelVersion == modelVersion && e.step == step
        && e.precisionAt1 == precisionAt1 && e.meanAveragePrecisionAtR == meanAveragePrecisionAtR
        && e.samples == samples && e.evaluatedAtMillis == evaluatedAtMillis;
  }

  @Override
  public int hashCode() {
    return Objects.hash(modelVersion, step, precisionAt1, meanAveragePrecisionAtR, samples, evaluatedAtMillis);
  }

  @Override
  public String toString() {
    return String.format("EvalResult{v%d step %d: precision_at_1=%.4f mean_average_precision_at_r=%.4f n=%d}",
        modelVersion, step, precisionAt1, meanAveragePrecisionAtR, samples);
  }
}
