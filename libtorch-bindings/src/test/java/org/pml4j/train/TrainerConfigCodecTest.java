package org.pml4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The one trainer-config codec ({@link Trainers#configFromJson}, {@link Trainers#toJson}) and its defaults. */
class TrainerConfigCodecTest {
  private static final String ENCODER = "{\"class\": \"Sequential\", \"params\": {\"layers\": ["
      + "{\"class\": \"Linear\", \"params\": {\"in_features\": 4, \"out_features\": 2}}]}}";

  @Test
  void absentKeysTakeTheDefaultsStatedOnce() {
    TrainerConfig c = Trainers.configFromJson("{\"encoder\": " + ENCODER + "}");
    assertEquals(Trainers.parse(ENCODER), c.encoder());
    assertNull(c.loss(), "null loss: the trainer's DEFAULT_LOSS");
    assertNull(c.miner());
    assertNull(c.optimizer(), "null optimizer: the trainer's DEFAULT_OPTIMIZER");
    assertEquals(Trainers.DEFAULT_MEMORY_SIZE, c.memorySize());
    assertEquals(Trainers.DEFAULT_SEED, c.seed());
    assertEquals(Trainers.DEFAULT_THREADS, c.threads());
    assertEquals(Trainers.parse(Trainers.DEFAULT_OPTIMIZER), Trainers.optimizerSpecOrDefault(c.optimizer()));
    assertEquals(Trainers.parse(Trainers.DEFAULT_LOSS), Trainers.lossSpecOrDefault(c.loss()));
  }

  @Test
  void roundTripsThroughText() {
    TrainerConfig c = new TrainerConfig(Trainers.parse(ENCODER), Trainers.parse(Trainers.DEFAULT_LOSS),
        Trainers.parse(Trainers.DEFAULT_MINER), Trainers.parse("{\"class\": \"SGD\", \"params\": {\"lr\": 0.1}}"), 64,
        7, 2);
    assertEquals(c, Trainers.configFromJson(Trainers.toJson(c).toString()));
    TrainerConfig sparse = new TrainerConfig(Trainers.parse(ENCODER), null, null, null, 0, 0, 0);
    assertEquals(sparse, Trainers.configFromJson(Trainers.toJson(sparse)));
  }

  @Test
  void badConfigsAreRejectedNamingTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Trainers.configFromJson("{\"loss\": {\"class\": \"TripletMarginLoss\"}}"));
    assertTrue(e.getMessage().contains("encoder"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Trainers.configFromJson("{\"encoder\": " + ENCODER + ", \"lr\": 1}"));
    assertTrue(e.getMessage().contains("'lr'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Trainers.configFromJson("{\"encoder\": " + ENCODER + ", \"threads\": 1.5}"));
    assertTrue(e.getMessage().contains("threads"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Trainers.configFromJson("{\"encoder\": "));
    assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Trainers.configFromJson("[1]"));
    e = assertThrows(IllegalArgumentException.class,
        () -> Trainers.configFromJson("{\"encoder\": " + ENCODER + "} xyz"));
    assertTrue(e.getMessage().contains("not valid JSON") && e.getMessage().contains("xyz"), e.getMessage());
  }
}
