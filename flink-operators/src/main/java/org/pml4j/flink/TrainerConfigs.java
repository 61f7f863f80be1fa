package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;

/**
 * {@link TrainerConfig} as JSON text, the form in which operators carry it (the record itself holds Jackson trees and
 * is not {@link java.io.Serializable}). The codec and its defaults are the core's one ({@link Trainers#toJson},
 * {@link Trainers#configFromJson}); these are the operators' names for it.
 */
public final class TrainerConfigs {
  private TrainerConfigs() {}

  /** {@link Trainers#toJson} as text. */
  public static String toJson(TrainerConfig c) {
    return Trainers.toJson(c).toString();
  }

  /** {@link Trainers#toJson}. */
  public static ObjectNode toTree(TrainerConfig c) {
    return Trainers.toJson(c);
  }

  /**
   * {@link Trainers#configFromJson(String)}.
   *
   * @throws IllegalArgumentException for a bad config
   */
  public static TrainerConfig fromJson(String json) {
    return Trainers.configFromJson(json);
  }

  /**
   * {@link Trainers#configFromJson(JsonNode)}.
   *
   * @throws IllegalArgumentException for a bad config
   */
  public static TrainerConfig fromTree(JsonNode n) {
    return Trainers.configFromJson(n);
  }
}
