package org.pml4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * What a trainer is built from: registry specs (JSON {"class","params"}) for the encoder, loss, optional miner and
 * optimizer, an optional CrossBatchMemory size, the seed, the thread count and the device.
 *
 * @param encoder encoder spec ({@code Sequential})
 * @param loss loss spec (any {@link org.pml4j.losses.MetricLoss})
 * @param miner miner spec, or null
 * @param optimizer optimizer spec, e.g. {@code {"class": "Adam", "params": {"lr": 1e-3}}}
 * @param memorySize CrossBatchMemory slots wrapped around the loss, or 0 for none
 * @param seed seed of LibTorch's generator and of the trainer's own randomness
 * @param threads ATen and OpenBLAS threads for the trainer's thread
 * @param device where the trainer keeps its parameters and runs its steps (config key {@code device}): {@code cpu}
 *     (the default; null means it), {@code cuda} (the current CUDA device; data-parallel replicas on one host take
 *     {@code cuda:(rank % devices)}, see {@link Trainers#forRank}), {@code cuda:N}, or {@code auto} (cuda when LibTorch
 *     sees a CUDA device, else cpu). Checked for its form here; whether the device exists is checked when a trainer is
 *     built ({@link BaseTrainer}). Not part of what a snapshot must agree with: a state saved on one device restores
 *     on another.
 */
public record TrainerConfig(JsonNode encoder, JsonNode loss, JsonNode miner, JsonNode optimizer, int memorySize,
    long seed, int threads, String device) {
  /** The values of {@code device}. */
  public static final String DEVICES = "cpu, cuda, cuda:N or auto";
  private static final Pattern DEVICE = Pattern.compile("cpu|auto|cuda|cuda:[0-9]{1,3}");

  /**
   * Normalizes {@code device} (null: {@link Trainers#DEFAULT_DEVICE}; trimmed, lower case).
   *
   * @throws IllegalArgumentException naming the key and the allowed values for a device of another form
   */
  public TrainerConfig {
    device = normalizeDevice(device);
  }

  /** A config on the default device ({@link Trainers#DEFAULT_DEVICE}, cpu). */
  public TrainerConfig(JsonNode encoder, JsonNode loss, JsonNode miner, JsonNode optimizer, int memorySize, long seed,
      int threads) {
    this(encoder, loss, miner, optimizer, memorySize, seed, threads, Trainers.DEFAULT_DEVICE);
  }

  /** This config with another {@code device} (same checks as the constructor). */
  public TrainerConfig withDevice(String newDevice) {
    return new TrainerConfig(encoder, loss, miner, optimizer, memorySize, seed, threads, newDevice);
  }

  /** Whether {@link #device()} is {@code cpu} (the default path: no device moves at all). */
  public boolean onCpu() {
    return device.equals("cpu");
  }

  /**
   * A device setting in its normal form.
   *
   * @throws IllegalArgumentException naming the key {@code device} and {@link #DEVICES}
   */
  public static String normalizeDevice(String device) {
    if (device == null) {
      return Trainers.DEFAULT_DEVICE;
    }
    String d = device.trim().toLowerCase(Locale.ROOT);
    if (!DEVICE.matcher(d).matches()) {
      throw new IllegalArgumentException("device must be " + DEVICES + ", got '" + device + "'");
    }
    return d;
  }
}
