package org.pml4j.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.pml4j.onnx.OnnxExporter;
import org.pml4j.torch.Torch;
import org.pml4j.train.BaseTrainer;
import org.pml4j.train.Checkpoints;
import org.pml4j.train.Trainers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pml4j export}. */
@Command(name = "export", mixinStandardHelpOptions = true,
    description = "Exports the encoder of a training checkpoint to ONNX (opset 17, verified in ONNX Runtime), with "
        + "the trainer's config and step in the model metadata.")
final class ExportCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--checkpoint", paramLabel = "FILE", required = true, description = "a checkpoint.bin")
  Path checkpoint;

  @Option(names = "--out", paramLabel = "FILE", required = true, description = "the ONNX file to write")
  Path out;

  @Option(names = "--model-version", description = "model version in the metadata (default: ${DEFAULT-VALUE})")
  long modelVersion = 1;

  @Override
  public Integer call() {
    Torch.setNumThreads(1);
    try (BaseTrainer t = Checkpoints.load(checkpoint)) {
      byte[] onnx = OnnxExporter.export(t.encoder(), new OnnxExporter.ExportInfo(modelVersion, t.steps(),
          metadata(t, null), true));
      Checkpoints.write(out, onnx);
      spec.commandLine().getOut().println("wrote " + out + " (" + onnx.length + " bytes, step " + t.steps() + ")");
      spec.commandLine().getOut().flush();
    }
    return 0;
  }

  /** Extra ONNX metadata: the trainer kind and config (and the dataset, when known). */
  static Map<String, String> metadata(BaseTrainer t, String dataset) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("trainer", t.kind());
    m.put("trainer_config", Trainers.toJson(t.config()).toString());
    if (dataset != null) {
      m.put("dataset", dataset);
    }
    return m;
  }
}
