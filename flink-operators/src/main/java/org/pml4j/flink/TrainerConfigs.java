package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.pml4j.train.TrainerConfig;

/**
 * {@link TrainerConfig} as JSON text, the form in which operators carry it (the record itself holds Jackson trees and
 * is not {@link java.io.Serializable}):
 *
 * <pre>{@code
 * {"encoder": {"class": "Sequential", ...}, "loss": {"class": "TripletMarginLoss", ...}, "miner": null,
 *  "optimizer": {"class": "Adam", "params": {"lr": 0.001}}, "memory_size": 0, "seed": 0, "threads": 1}
 * }</pre>
 */
public final class TrainerConfigs {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TrainerConfigs() {}

  public static String toJson(TrainerConfig c) {
    return toTree(c).toString();
  }

  public static ObjectNode toTree(TrainerConfig c) {
    ObjectNode n = JSON.createObjectNode();
    n.set("encoder", c.encoder());
    n.set("loss", c.loss());
    n.set("miner", c.miner() == null ? NullNode.instance : c.miner());
    n.set("optimizer", c.optimizer());
    n.put("memory_size", c.memorySize());
    n.put("seed", c.seed());
    n.put("threads", c.threads());
    return n;
  }

  public static TrainerConfig fromJson(String json) {
    try {
      return fromTree(JSON.readTree(json));
    } catch (IOException e) {
      throw new UncheckedIOException("trainer config is not valid JSON", e);
    }
  }

  /**
   * Reads a config tree; {@code encoder} and {@code loss} are required, {@code optimizer} defaults to Adam(lr=1e-3),
   * {@code memory_size} to 0, {@code seed} to 0, {@code threads} to 1.
   */
  public static TrainerConfig fromTree(JsonNode n) {
    if (n == null || !n.isObject()) {
      throw new IllegalArgumentException("trainer config must be a JSON object");
    }
    for (String required : new String[] {"encoder", "loss"}) {
      if (!n.hasNonNull(required)) {
        throw new IllegalArgumentException("trainer config needs '" + required + "'");
      }
    }
    java.util.Iterator<String> names = n.fieldNames();
    while (names.hasNext()) {
      String k = names.next();
      if (!java.util.Set.of("encoder", "loss", "miner", "optimizer", "memory_size", "seed", "threads").contains(k)) {
        throw new IllegalArgumentException("unknown trainer config key '" + k
            + "'; valid: encoder, loss, miner, optimizer, memory_size, seed, threads");
      }
    }
    JsonNode miner = n.get("miner");
    JsonNode optimizer = n.hasNonNull("optimizer") ? n.get("optimizer")
        : JSON.createObjectNode().put("class", "Adam").set("params", JSON.createObjectNode().put("lr", 1e-3));
    return new TrainerConfig(n.get("encoder"), n.get("loss"), miner == null || miner.isNull() ? null : miner,
        optimizer, n.path("memory_size").asInt(0), n.path("seed").asLong(0), n.path("threads").asInt(1));
  }
}
