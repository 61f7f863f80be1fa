package org.pml4j.flink;

import java.util.function.LongSupplier;
import org.apache.flink.metrics.Counter;

/**
 * A read-only Flink {@link Counter} that shows a figure the training engine keeps (steps, samples), so that Flink's
 * meters ({@code MeterView}) can rate it; {@code inc}/{@code dec} do nothing.
 */
final class EngineCounter implements Counter {
  private final LongSupplier value;

  EngineCounter(LongSupplier value) {
    this.value = value;
  }

  @Override
  public void inc() {}

  @Override
  public void inc(long n) {}

  @Override
  public void dec() {}

  @Override
  public void dec(long n) {}

  @Override
  public long getCount() {
    return value.getAsLong();
  }
}
