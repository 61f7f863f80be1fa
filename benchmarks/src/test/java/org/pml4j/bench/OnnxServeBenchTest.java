package org.pml4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The serving benchmark on a tiny encoder: every variant is timed, the JSON line has every figure and ratio. */
class OnnxServeBenchTest {
  @Test
  void tinyRunHasEveryVariantAndRatio() throws Exception {
    StringWriter s = new StringWriter();
    List<OnnxServeBench.Row> rows = OnnxServeBench.run(new String[] {"--encoders", "12-8-4", "--batches", "1,5",
        "--rounds", "2", "--seconds", "0.001", "--json"}, new PrintWriter(s));
    assertEquals(2, rows.size());
    String[] lines = s.toString().strip().split("\n");
    JsonNode j = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertEquals(2, j.get("results").size());
    for (JsonNode r : j.get("results")) {
      assertEquals("MLP 12-8-4", r.get("encoder").asText());
      assertEquals(1, r.get("threads").asInt());
      for (String v : OnnxServeBench.VARIANTS) {
        double us = r.get("us_per_call").get(v).asDouble();
        assertTrue(us > 0 && Double.isFinite(us), v + ": " + us);
      }
      for (String q : List.of("torch_over_embed", "torch_over_embed_flat", "torch_forward_over_embed")) {
        assertTrue(r.get("ratios").get(q).asDouble() > 0, q);
      }
    }
    assertEquals(List.of(1, 5), rows.stream().map(OnnxServeBench.Row::batch).toList());
    assertTrue(s.toString().contains("LibTorch/embed"), s.toString());
    assertThrows(IllegalArgumentException.class, () -> OnnxServeBench.run(new String[] {"--nope"},
        new PrintWriter(new StringWriter())));
  }
}
