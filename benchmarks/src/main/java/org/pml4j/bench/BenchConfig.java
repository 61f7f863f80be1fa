package org.pml4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;

/**
 * A benchmarked loss setup.
 *
 * @param name the config's name ({@code triplet_ms}, {@code cbm_contrastive})
 * @param description what it is, in words
 * @param loss loss spec
 * @param miner miner spec, or null
 * @param memorySize CrossBatchMemory slots around the loss, or 0
 */
public record BenchConfig(String name, String description, JsonNode loss, JsonNode miner, int memorySize) {
  /** The known configs, in run order. */
  public static final List<String> NAMES = List.of("triplet_ms", "cbm_contrastive");

  /**
   * A config by name: {@code triplet_ms} = TripletMarginLoss + MultiSimilarityMiner (PML defaults);
   * {@code cbm_contrastive} = CrossBatchMemory(ContrastiveLoss, memory_size) (PML defaults, no miner).
   *
   * @throws IllegalArgumentException for an unknown name
   */
  public static BenchConfig named(String name, int memorySize) {
    switch (name) {
      case "triplet_ms":
        return new BenchConfig(name, "TripletMarginLoss + MultiSimilarityMiner",
            Trainers.parse("{\"class\": \"TripletMarginLoss\"}"),
            Trainers.parse("{\"class\": \"MultiSimilarityMiner\"}"),
            0);
      case "cbm_contrastive":
        return new BenchConfig(name, "CrossBatchMemory(ContrastiveLoss, memory_size " + memorySize + ")",
            Trainers.parse("{\"class\": \"ContrastiveLoss\"}"), null, memorySize);
      default:
        throw new IllegalArgumentException("unknown bench config '" + name + "'; known: " + String.join(", ", NAMES));
    }
  }

  /** The trainer config: this loss setup on {@code encoder}, Adam lr 1e-3, threads left as they are. */
  public TrainerConfig trainerConfig(JsonNode encoder, long seed) {
    return new TrainerConfig(encoder, loss, miner, Trainers.parse(Trainers.DEFAULT_OPTIMIZER), memorySize, seed, 0);
  }
}
