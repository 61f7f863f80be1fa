package org.pml4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.pml4j.data.LabeledDataset;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.samplers.MPerClassSampler;
import org.pml4j.torch.Torch;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.Checkpoints;
import org.pml4j.train.Epochs;
import org.pml4j.train.RetrievalEval;
import org.pml4j.train.TrainerConfig;
import org.pml4j.train.Trainers;
import org.pml4j.train.TrainingEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pml4j train}. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Trains an encoder with a metric loss (PML's MetricLossOnly, or TrainWithClassifier when the loss "
        + "spec is {\"class\": \"TrainWithClassifier\", \"params\": {\"metric_loss\", \"num_classes\", "
        + "\"loss_weights\"}}) and writes DIR/checkpoint.bin, DIR/model.onnx and DIR/metrics.json (final loss, steps, "
        + "steps/s, precision_at_1 and mean_average_precision_at_r on the test split, each test row a query against "
        + "the other test rows).",
        "Datasets csv and jsonl: --set train_path=FILE --set heldout_path=FILE (the test split); a bad line (not "
        + "readable, no label, wrong dimension, a non-finite value) is left out, counted in metrics.json "
        + "(rejected_train_records, rejected_test_records) and reported on stderr with the first reasons and their "
        + "line numbers; a file without a usable line is an error.",
        "SPEC: inline JSON {\"class\": ..., \"params\": {...}}, a path to a JSON file, or a bare class name."})
final class TrainCommand implements Callable<Integer> {
  /** Steps left out of {@code steady_steps_per_second} in metrics.json (warm-up). */
  static final int WARMUP_STEPS = 50;

  @Spec
  CommandSpec spec;

  @Mixin
  DatasetOptions data = new DatasetOptions();

  @Option(names = "--encoder", paramLabel = "SPEC",
      description = "encoder (Sequential) spec (default: Linear(in, 512), ReLU, Linear(512, 128), L2Normalize)")
  String encoder;

  @Option(names = "--loss", paramLabel = "SPEC", description = "loss spec (default: ${DEFAULT-VALUE})")
  String loss = "TripletMarginLoss";

  @Option(names = "--miner", paramLabel = "SPEC", description = "miner spec, or 'none' (default: ${DEFAULT-VALUE})")
  String miner = "MultiSimilarityMiner";

  @Option(names = "--optimizer", paramLabel = "SPEC", description = "optimizer spec: SGD, Adam or AdamW "
      + "(default: ${DEFAULT-VALUE})")
  String optimizer = "{\"class\": \"Adam\", \"params\": {\"lr\": 0.001}}";

  @Option(names = "--memory-size", paramLabel = "N",
      description = "wrap the loss in a CrossBatchMemory of N slots (default: ${DEFAULT-VALUE}: none)")
  int memorySize = 0;

  @Option(names = "--epochs", description = "passes over the training split (default: ${DEFAULT-VALUE})")
  int epochs = 1;

  @Option(names = "--batch-size", paramLabel = "B", description = "rows per step (default: ${DEFAULT-VALUE})")
  int batchSize = 256;

  @Option(names = "--m-per-class", paramLabel = "M",
      description = "batches of B/M classes with M rows each (PML's MPerClassSampler); default: shuffled rows")
  Integer mPerClass;

  @Option(names = "--out", paramLabel = "DIR", required = true, description = "output directory")
  Path out;

  @Option(names = "--threads", paramLabel = "T", description = "ATen and OpenBLAS threads (default: ${DEFAULT-VALUE})")
  int threads = 1;

  @Option(names = "--device", paramLabel = "DEVICE", description = "where the trainer runs (trainer config key "
      + "device): cpu (default), cuda, cuda:N or auto (cuda when LibTorch sees a GPU); CUDA needs a build with -Pcuda "
      + "and a GPU. The checkpoint is device-free: --resume may change it")
  String device;

  @Option(names = "--seed", paramLabel = "S", description = "seed of the initialization, the batch order and "
      + "LibTorch's generator (default: ${DEFAULT-VALUE})")
  long seed = 0;

  @Option(names = "--no-progress", description = "no progress bar")
  boolean noProgress;

  @Option(names = "--resume", paramLabel = "CHECKPOINT", description = "continue from a checkpoint.bin of an earlier "
      + "run (its encoder, loss, miner, optimizer state, step and random state) for --epochs more epochs; the model "
      + "options (--encoder, --loss, --miner, --optimizer, --memory-size, --seed) come from the checkpoint and may "
      + "not be given. Resuming at an epoch boundary is bit-identical to one longer run with the same data, batch "
      + "size and sampler")
  Path resume;

  /**
   * Creates the output directory {@code dir} of {@code option} (or checks the existing one).
   *
   * @throws IllegalArgumentException naming the option when {@code dir} is a file or cannot be created or written
   */
  static Path outputDirectory(String option, Path dir) {
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new IllegalArgumentException(option + ": " + dir + " is a file; give a directory");
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new IllegalArgumentException(option + ": cannot create directory " + dir + " (" + e + ")");
    }
    if (!Files.isWritable(dir)) {
      throw new IllegalArgumentException(option + ": directory " + dir + " is not writable");
    }
    return dir;
  }

  private static final List<String> MODEL_OPTIONS = List.of("--encoder", "--loss", "--miner", "--optimizer",
      "--memory-size", "--seed");

  @Override
  public Integer call() throws Exception {
    if (epochs < 1) {
      throw new IllegalArgumentException("--epochs must be >= 1 (passes over the training split), got " + epochs);
    }
    if (batchSize < 2) {
      throw new IllegalArgumentException("--batch-size must be >= 2 (a metric loss needs pairs of rows), got "
          + batchSize);
    }
    if (threads < 1) {
      throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
    }
    outputDirectory("--out", out); // before any work: a bad --out fails now, not after training
    PrintWriter stdout = spec.commandLine().getOut();
    PrintWriter stderr = spec.commandLine().getErr();
    Torch.setNumThreads(threads);
    LabeledDataset train = data.load("train");
    LabeledDataset test = data.load("test");
    for (String note : new String[] {data.rejectionNote("train", train), data.rejectionNote("test", test)}) {
      if (note != null) { // bad csv/jsonl lines are left out, as pml4j stream's validation does
        stderr.println("pml4j train: " + note);
        stderr.flush();
      }
    }
    BaseTrainer built;
    if (resume != null) {
      for (String o : MODEL_OPTIONS) {
        if (spec.commandLine().getParseResult().hasMatchedOption(o)) {
          throw new IllegalArgumentException(o + " cannot be combined with --resume: the checkpoint defines the model");
        }
      }
      built = Checkpoints.load(resume, device);
    } else {
      JsonNode enc = encoder == null ? Trainers.defaultEncoder(train.numFeatures())
          : SpecArgs.read("--encoder", encoder);
      JsonNode minerSpec = miner.trim().equalsIgnoreCase("none") ? null : SpecArgs.read("--miner", miner);
      built = Trainers.fromConfig(new TrainerConfig(enc, SpecArgs.read("--loss", loss), minerSpec,
          SpecArgs.read("--optimizer", optimizer), memorySize, seed, threads, device));
    }
    try (TrainingEngine engine = new TrainingEngine(built, TrainingEngine.Settings.batchesOnly(batchSize), null)) {
      BaseTrainer trainer = built;
      TrainerConfig config = trainer.config();
      long startStep = trainer.steps();
      if (trainer.encoder().inputSize() != train.numFeatures()) {
        throw new IllegalArgumentException("the encoder takes " + trainer.encoder().inputSize() + " values per row "
            + "but " + train.name() + " has " + train.numFeatures());
      }
      Random rng = trainer.random();
      MPerClassSampler sampler = mPerClass == null ? null
          : new MPerClassSampler(train.labels(), mPerClass, batchSize, train.size(), rng);
      List<int[]> firstEpoch = Epochs.batches(train.size(), sampler, batchSize, rng);
      long total = (long) firstEpoch.size() * epochs;
      if (total == 0) {
        throw new IllegalArgumentException("no batch of at least 2 rows in " + train.name());
      }
      ProgressBar bar = new ProgressBar(stderr, total, !noProgress);
      double seconds = 0;
      Epochs.Stats last = null;
      // Steady-state rate: the steps after the first WARMUP_STEPS (JIT, allocator and cache warm-up), so that a
      // short run compares with a long-running stream.
      long[] warm = {-1, -1};
      java.lang.management.ThreadMXBean threadBean = java.lang.management.ManagementFactory.getThreadMXBean();
      long cpu0 = threadBean.isCurrentThreadCpuTimeSupported() ? threadBean.getCurrentThreadCpuTime() : 0;
      for (int epoch = 0; epoch < epochs; epoch++) {
        List<int[]> batches = epoch == 0 ? firstEpoch : Epochs.batches(train.size(), sampler, batchSize, rng);
        last = Epochs.run(engine, train, batches, r -> {
          long step = r.step() - startStep;
          bar.update(step, r.loss());
          if (step == WARMUP_STEPS) {
            warm[0] = System.nanoTime();
          } else if (step > WARMUP_STEPS) {
            warm[1] = System.nanoTime();
          }
        });
        seconds += last.seconds();
      }
      double cpuSeconds = threadBean.isCurrentThreadCpuTimeSupported()
          ? (threadBean.getCurrentThreadCpuTime() - cpu0) / 1e9 : Double.NaN;
      double lastLoss = last.lastLoss();
      bar.finish(trainer.steps() - startStep);

      Checkpoints.save(trainer, out.resolve("checkpoint.bin"));
      byte[] onnx = OnnxExporter.export(trainer.encoder(), new OnnxExporter.ExportInfo(1, trainer.steps(),
          ExportCommand.metadata(trainer, data.name()), true));
      Checkpoints.write(out.resolve("model.onnx"), onnx);
      bar.note("evaluating precision_at_1 and mean_average_precision_at_r on " + test.size() + " test rows...");
      Map<String, Double> metrics = RetrievalEval.evaluate(trainer.encoder(), test);

      ObjectNode m = SpecArgs.JSON.createObjectNode();
      m.put("dataset", data.name());
      m.put("train_rows", train.size());
      m.put("test_rows", test.size());
      m.put("rejected_train_records", data.rejections("train").count()); // bad csv/jsonl lines left out
      m.put("rejected_test_records", data.rejections("test").count());
      m.put("epochs", epochs);
      m.put("batch_size", batchSize);
      m.put("steps", trainer.steps());
      m.put("skipped_nonfinite", trainer.skippedNonfinite()); // batches the trainer's non-finite guard skipped
      if (resume != null) {
        m.put("resumed_from", resume.toString());
        m.put("resumed_at_step", startStep);
      }
      m.put("train_seconds", seconds);
      if (Double.isNaN(cpuSeconds)) {
        m.putNull("train_cpu_seconds");
      } else {
        m.put("train_cpu_seconds", cpuSeconds);
      }
      m.put("steps_per_second", (trainer.steps() - startStep) / seconds);
      m.put("warmup_steps", WARMUP_STEPS);
      if (warm[0] > 0 && warm[1] > warm[0]) {
        m.put("steady_steps_per_second", (trainer.steps() - startStep - WARMUP_STEPS)
            / ((warm[1] - warm[0]) / 1e9));
      } else {
        m.putNull("steady_steps_per_second");
      }
      m.put("final_loss", lastLoss);
      m.put("mean_loss_last_epoch", last.meanLoss());
      m.put("eval_split", "test");
      metrics.forEach(m::put);
      m.put("threads", threads);
      m.set("config", Trainers.toJson(config));
      Checkpoints.write(out.resolve("metrics.json"),
          SpecArgs.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m).getBytes(StandardCharsets.UTF_8));
      stdout.printf(Locale.ROOT, "steps %d (%.1f steps/s), final loss %.6f%n", trainer.steps(),
          (trainer.steps() - startStep) / seconds, lastLoss);
      stdout.printf(Locale.ROOT, "precision_at_1 %.6f%nmean_average_precision_at_r %.6f%n",
          metrics.get("precision_at_1"), metrics.get("mean_average_precision_at_r"));
      stdout.println("wrote " + out.resolve("checkpoint.bin") + ", " + out.resolve("model.onnx") + ", "
          + out.resolve("metrics.json"));
      stdout.flush();
    }
    return 0;
  }
}
