package org.pml4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.pml4j.data.LabeledDataset;
import org.pml4j.onnx.OnnxEncoder;
import org.pml4j.torch.Torch;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.Checkpoints;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pml4j eval}. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Embeds a dataset split with a model (an ONNX file, run by ONNX Runtime, or a checkpoint.bin, run "
        + "by LibTorch) and prints precision_at_1 and mean_average_precision_at_r, each row a query against the other "
        + "rows of the split.")
final class EvalCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--model", paramLabel = "FILE", required = true, description = "model.onnx or checkpoint.bin")
  Path model;

  @Mixin
  DatasetOptions data = new DatasetOptions();

  @Option(names = "--split", description = "train or test (default: ${DEFAULT-VALUE})")
  String split = "test";

  @Option(names = "--threads", paramLabel = "T", description = "inference threads (default: ${DEFAULT-VALUE})")
  int threads = 1;

  @Override
  public Integer call() throws Exception {
    Torch.setNumThreads(threads);
    LabeledDataset d = data.load(split);
    String note = data.rejectionNote(split, d);
    if (note != null) { // bad csv/jsonl lines are left out
      spec.commandLine().getErr().println("pml4j eval: " + note);
    }
    float[][] emb;
    if (Evaluation.isCheckpoint(model)) {
      try (BaseTrainer t = Checkpoints.load(model)) {
        emb = Evaluation.embed(t.encoder(), d);
      }
    } else {
      try (OnnxEncoder enc = OnnxEncoder.load(java.nio.file.Files.readAllBytes(model),
          new OnnxEncoder.Options(threads, 4096))) {
        emb = Evaluation.embed(enc, d);
      }
    }
    Map<String, Double> m = Evaluation.metrics(emb, d.labels());
    PrintWriter out = spec.commandLine().getOut();
    for (Map.Entry<String, Double> e : m.entrySet()) {
      out.printf(Locale.ROOT, "%s %.8f%n", e.getKey(), e.getValue());
    }
    out.flush();
    return 0;
  }
}
