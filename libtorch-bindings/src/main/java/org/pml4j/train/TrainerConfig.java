package org.pml4j.train;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What a trainer is built from: registry specs (JSON {"class","params"}) for the encoder, loss, optional miner and
 * optimizer, an optional CrossBatchMemory size, the seed and the thread count.
 *
 * @param encoder encoder spec ({@code Sequential})
 * @param loss loss spec (any {@link org.pml4j.losses.MetricLoss})
 * @param miner miner spec, or null
 * @param optimizer optimizer spec, e.g. {@code {"class": "Adam", "params": {"lr": 1e-3}}}
 * @param memorySize CrossBatchMemory slots wrapped around the loss, or 0 for none
 * @param seed seed of LibTorch's generator and of the trainer's own randomness
 * @param threads ATen and OpenBLAS threads for the trainer's thread
 */
public record TrainerConfig(JsonNode encoder, JsonNode loss, JsonNode miner, JsonNode optimizer, int memorySize,
    long seed, int threads) {}
