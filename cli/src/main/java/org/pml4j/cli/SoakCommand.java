package org.pml4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.pml4j.torch.Torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code pml4j soak}. */
@Command(name = "soak", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Runs many miner + loss + backward steps on random batches and reports the resident set size, "
        + "to check that native memory stays flat.",
        "The loop runs in a child JVM with a fixed, pre-touched heap (-Xms = -Xmx = --heap, -XX:+AlwaysPreTouch), so "
            + "that RSS changes come from native memory and not from the Java heap growing; --heap none runs it in "
            + "this JVM.",
        "Exit status 1 when RSS from --flat-from of the run to the end rises more than --max-rise over its lowest "
            + "earlier sample (a leak climbs; memory given back to the OS is a fall and passes).",
        "A million steps in about 20 minutes on one core: --steps 1000000 --batch 16 --dim 8 --classes 4 "
            + "--every 10000."})
final class SoakCommand implements Callable<Integer> {
  @Option(names = "--loss", description = "loss spec (default: ${DEFAULT-VALUE})")
  String loss = "{\"class\": \"TripletMarginLoss\"}";

  @Option(names = "--miner", description = "miner spec (default: ${DEFAULT-VALUE}); 'none' for no miner")
  String miner = "{\"class\": \"MultiSimilarityMiner\"}";

  @Option(names = "--steps", description = "steps (default: ${DEFAULT-VALUE})")
  long steps = 100_000;

  @Option(names = "--batch", description = "batch size (default: ${DEFAULT-VALUE})")
  int batch = 256;

  @Option(names = "--dim", description = "embedding size (default: ${DEFAULT-VALUE})")
  int dim = 128;

  @Option(names = "--classes", description = "classes per batch (default: ${DEFAULT-VALUE})")
  int classes = 32;

  @Option(names = "--every", description = "RSS sample interval in steps (default: ${DEFAULT-VALUE})")
  long every = 1000;

  @Option(names = "--flat-from", description = "start of the window that must be flat, as a fraction of the steps "
      + "(default: ${DEFAULT-VALUE}: from 10% of the run to the end)")
  double flatFrom = 0.10;

  @Option(names = {"--max-rise", "--max-spread"}, description = "allowed RSS rise in the window: the largest "
      + "rss / (lowest rss before it) - 1 (default: ${DEFAULT-VALUE}; --max-spread is its former name)")
  double maxRise = 0.05;

  @Option(names = "--heap", description = "fixed heap of the child JVM that runs the loop (default: "
      + "${DEFAULT-VALUE}); 'none': run in this JVM")
  String heap = "128m";

  @Option(names = "--threads", description = "ATen and OpenBLAS threads (default: ${DEFAULT-VALUE})")
  int threads = 1;

  @Override
  public Integer call() throws Exception {
    if (steps < 1 || batch < 2 || dim < 1 || classes < 1 || every < 1 || threads < 1) {
      throw new IllegalArgumentException("--steps, --dim, --classes, --every and --threads must be >= 1 and --batch "
          + ">= 2");
    }
    if (!(flatFrom >= 0 && flatFrom < 1)) {
      throw new IllegalArgumentException("--flat-from must be in [0, 1), got " + flatFrom);
    }
    if (!"none".equals(heap)) {
      if (!heap.matches("[0-9]+[kKmMgG]?")) {
        throw new IllegalArgumentException("--heap must be a JVM size such as 128m, or none; got '" + heap + "'");
      }
      return relaunch();
    }
    Torch.setNumThreads(threads);
    List<Soak.Sample> samples = Soak.run(loss, "none".equals(miner) ? null : miner, steps, batch, dim, classes,
        every, System.out);
    Soak.Report r = Soak.report(samples, Math.round(steps * flatFrom));
    System.out.println(r);
    System.out.flush();
    return r.rise() > maxRise ? 1 : 0;
  }

  /** Runs this command again with {@code --heap none} in a child JVM of a fixed, pre-touched heap. */
  private int relaunch() throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xms" + heap, "-Xmx" + heap, "-XX:+AlwaysPreTouch", "-Xss16m"));
    String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
    if (cache != null) {
      cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "soak", "--heap", "none",
        "--loss", loss, "--miner", miner, "--steps", Long.toString(steps), "--batch", Integer.toString(batch),
        "--dim", Integer.toString(dim), "--classes", Integer.toString(classes), "--every", Long.toString(every),
        "--flat-from", Double.toString(flatFrom), "--max-rise", Double.toString(maxRise), "--threads",
        Integer.toString(threads)));
    System.out.println("pml4j soak: child JVM with a fixed, pre-touched heap of " + heap);
    System.out.flush();
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    return p.waitFor();
  }
}
