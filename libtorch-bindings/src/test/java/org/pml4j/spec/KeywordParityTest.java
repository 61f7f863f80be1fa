package org.pml4j.spec;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.pml4j.distances.CosineSimilarity;
import org.pml4j.distances.SNRDistance;
import org.pml4j.losses.CrossBatchMemory;
import org.pml4j.miners.EmbeddingsAlreadyPackagedAsTriplets;

/** Keyword arguments that PML's constructors accept through their base classes are accepted by the registry too. */
class KeywordParityTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static Object build(String json) throws Exception {
    JsonNode spec = JSON.readTree(json);
    return Registry.build(spec);
  }

  @Test
  void crossBatchMemoryTakesCollectStats() throws Exception {
    assertInstanceOf(CrossBatchMemory.class, build("{\"class\":\"CrossBatchMemory\",\"params\":{\"loss\":"
        + "{\"class\":\"ContrastiveLoss\",\"params\":{}},\"embedding_size\":4,\"collect_stats\":true}}"));
  }

  @Test
  void snrDistanceTakesIsInvertedFalseAndRejectsTrue() throws Exception {
    assertInstanceOf(SNRDistance.class, build("{\"class\":\"SNRDistance\",\"params\":{\"is_inverted\":false}}"));
    assertThrows(RuntimeException.class,
        () -> build("{\"class\":\"SNRDistance\",\"params\":{\"is_inverted\":true}}"));
  }

  @Test
  void embeddingsAlreadyPackagedAsTripletsTakesADistance() throws Exception {
    Object m = build("{\"class\":\"EmbeddingsAlreadyPackagedAsTriplets\",\"params\":{\"distance\":"
        + "{\"class\":\"CosineSimilarity\",\"params\":{}}}}");
    assertInstanceOf(CosineSimilarity.class, ((EmbeddingsAlreadyPackagedAsTriplets) m).distance());
  }
}
