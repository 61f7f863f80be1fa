package org.pml4j.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Runs the README's quick start, and checks that the README quotes its code verbatim. */
class QuickStartTest {
  @Test
  void theQuickStartTrains() {
    // The encoder's initial weights come from LibTorch's global generator: seed it, so that the test checks one
    // known run. The loss is the mined one: MultiSimilarityMiner keeps the hard triplets as the encoder improves, so
    // it falls slowly (seeded: 0.157 -> 0.117 over 120 steps; unseeded runs ranged from 0.72 to under 0.5 of the
    // start).
    org.pml4j.torch.Torch.ensureLoaded();
    org.bytedeco.pytorch.global.torch.manual_seed(1);
    double[] losses = QuickStart.train(120);
    System.out.println("QuickStart losses: first " + losses[0] + ", last " + losses[losses.length - 1]);
    double first = 0;
    double last = 0;
    for (int i = 0; i < 20; i++) {
      first += losses[i] / 20;
      last += losses[losses.length - 1 - i] / 20;
    }
    assertTrue(Double.isFinite(first) && first > 0, "first losses " + first);
    assertTrue(last < 0.85 * first, "the loss falls: mean of the first 20 steps " + first + ", of the last 20 " + last);
  }

  @Test
  void theReadmeQuotesTheQuickStartVerbatim() throws Exception {
    String source = Files.readString(Path.of("src/main/java/org/pml4j/examples/QuickStart.java"));
    String readme = Files.readString(Path.of(System.getProperty("pml4j.readme", "../README.md")));
    for (String part : new String[] {"imports", "train"}) {
      Matcher m = Pattern.compile("// \\[" + part + "]\\n(.*?)\\n\\s*// \\[/" + part + "]", Pattern.DOTALL)
          .matcher(source);
      assertTrue(m.find(), "marker " + part + " in QuickStart.java");
      String quoted = m.group(1).stripIndent().strip();
      assertTrue(readme.contains(quoted), "README.md must quote QuickStart.java's [" + part + "] part verbatim:\n"
          + quoted);
    }
  }
}
