package org.pml4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.pml4j.bench.Baseline;
import org.pml4j.bench.Bench;
import org.pml4j.bench.BenchConfig;
import org.pml4j.bench.BenchOptions;
import org.pml4j.data.LabeledDataset;
import org.pml4j.train.StepResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pml4j bench}. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Compares pml4j with pytorch-metric-learning (PML) 2.8.1: MLP 784-512-128 "
        + "(ReLU, L2-normalized), batch 256, Adam lr 1e-3, one epoch of Fashion-MNIST. Per config: (a) loss+miner "
        + "forward+backward steps/s on fixed random normalized 256x128 embeddings, (b) training steps/s over the "
        + "epoch (with a per-phase split), (c) precision_at_1 and MAP@R of the trained encoder, test split against "
        + "itself without the self match.",
        "Configs: triplet_ms = TripletMarginLoss + MultiSimilarityMiner; cbm_contrastive = "
            + "CrossBatchMemory(ContrastiveLoss, memory_size 4096).",
        "PML's figures: with --pml-json, the output of PML's benchmark script bench_pml.py (not in this "
            + "repository) run on this machine (give its 1-thread and 2-thread runs; per config and figure the "
            + "faster is the baseline); without, the figures recorded once on another machine, which the output "
            + "flags as not side by side.",
        "With --json the last line of stdout is one JSON object: {\"configs\", \"pml_baseline\", \"baseline\" "
            + "(which PML run each figure comes from), \"ratios\" (ours / PML's steps/s), \"threads\", "
            + "\"thread_probe\", \"java\"}."})
final class BenchCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  DatasetOptions data = new DatasetOptions();

  @Option(names = "--json", description = "end stdout with the results as one line of JSON")
  boolean json;

  @Option(names = "--configs", paramLabel = "LIST", split = ",",
      description = "configs to run, comma-separated (default: triplet_ms,cbm_contrastive)")
  List<String> configs = new ArrayList<>(BenchConfig.NAMES);

  @Option(names = "--pml-json", paramLabel = "FILE", description = "bench_pml.py's output (repeatable: e.g. its "
      + "--threads 1 and --threads 2 runs); per config and figure the faster PML run is the baseline")
  List<Path> pmlJson = new ArrayList<>();

  @Option(names = "--threads", paramLabel = "T", description = "ATen and OpenBLAS threads; 0 measures 1 and 2 and "
      + "uses the faster (default: ${DEFAULT-VALUE})")
  int threads = 0;

  @Option(names = "--loss-seconds", paramLabel = "S",
      description = "minimum timed seconds of each loss benchmark (default: ${DEFAULT-VALUE})")
  double lossSeconds = BenchOptions.defaults().lossSeconds();

  @Option(names = "--batch-size", paramLabel = "B", description = "rows per step (default: ${DEFAULT-VALUE})")
  int batchSize = BenchOptions.defaults().batchSize();

  @Option(names = "--hidden", paramLabel = "H", description = "hidden width of the MLP (default: ${DEFAULT-VALUE})")
  int hidden = BenchOptions.defaults().hidden();

  @Option(names = "--embedding", paramLabel = "E", description = "embedding size (default: ${DEFAULT-VALUE})")
  int embedding = BenchOptions.defaults().embedding();

  @Option(names = "--memory-size", paramLabel = "N",
      description = "CrossBatchMemory slots of cbm_contrastive (default: ${DEFAULT-VALUE})")
  int memorySize = BenchOptions.defaults().memorySize();

  @Option(names = "--seed", paramLabel = "S", description = "seed (default: ${DEFAULT-VALUE})")
  long seed = 0;

  @Option(names = "--no-progress", description = "no progress bar")
  boolean noProgress;

  @Override
  public Integer call() {
    if (threads < 0 || threads > 2) {
      throw new IllegalArgumentException("--threads must be 0 (measure), 1 or 2");
    }
    Baseline baseline = pmlJson.isEmpty() ? Baseline.recorded() : Baseline.fromPmlJson(pmlJson);
    PrintWriter stdout = spec.commandLine().getOut();
    PrintWriter stderr = spec.commandLine().getErr();
    BenchOptions o = new BenchOptions(batchSize, hidden, embedding, memorySize, seed, threads, lossSeconds,
        BenchOptions.defaults().lossMinSteps(), BenchOptions.defaults().lossWarmup(),
        BenchOptions.defaults().probeSteps());
    List<String> names = new ArrayList<>();
    for (String c : configs) {
      if (!c.isBlank()) {
        BenchConfig.named(c.trim(), memorySize);
        names.add(c.trim());
        baseline.figures(c.trim());
      }
    }
    LabeledDataset train = data.load("train");
    LabeledDataset test = data.load("test");
    Bench.Progress progress = noProgress ? null : new Bench.Progress() {
      private ProgressBar bar;

      @Override
      public void start(String config, long totalSteps) {
        bar = new ProgressBar(stderr, totalSteps, true);
      }

      @Override
      public void step(StepResult r) {
        bar.update(r.step(), r.loss());
      }

      @Override
      public void finish(long steps) {
        bar.finish(steps);
      }
    };
    Bench.Result r = new Bench(o, stdout, progress, baseline).run(names, train, test);
    if (json) {
      stdout.println(r.toJson().toString());
    }
    stdout.flush();
    return 0;
  }
}
