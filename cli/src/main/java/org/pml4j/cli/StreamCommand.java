package org.pml4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.pml4j.data.FashionMnist;
import org.pml4j.flink.JobConfigReader;
import org.pml4j.flink.OutputDirectory;
import org.pml4j.flink.StreamJobConfig;
import org.pml4j.flink.StreamingJob;
import org.pml4j.flink.TrainerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/** {@code pml4j stream}. */
@Command(name = "stream", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Runs the streaming job (org.pml4j.flink.StreamingJob) in an embedded Flink MiniCluster with the "
        + "Web UI on localhost: online metric learning on a labeled stream, versioned ONNX models published to "
        + "DIR/models, each version's precision@1 and MAP@R on a held-out stream. Prints progress per model version "
        + "and writes DIR/summary.json and the plot DIR/quality.png (loss, P@1, MAP@R per version).",
        "Dataset: Fashion-MNIST when its files exist (" + FashionMnist.DEFAULT_DIR + "), otherwise the seeded "
            + "synthetic stream."})
final class StreamCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec
  CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE",
      description = "job config JSON (StreamingJob keys, snake_case); the flags below override it")
  Path config;

  @Option(names = "--dataset", description = "fashion-mnist, synthetic, csv, jsonl or kafka (default: fashion-mnist "
      + "when " + FashionMnist.DEFAULT_DIR + " exists, else synthetic); csv and jsonl need --set train_path=... "
      + "--set heldout_path=... --set dimension=N")
  String dataset;

  @Option(names = "--out", paramLabel = "DIR", description = "output directory (default: ${DEFAULT-VALUE}); a "
      + "non-empty directory must be an earlier pml4j stream output (it has a .pml4j-stream file): a new run there "
      + "replaces only that run's files, and restoring from a checkpoint or savepoint inside it continues it")
  Path out = Path.of("pml4j-out");

  @Option(names = "--duration", paramLabel = "TIME", description = "stop after this long (e.g. 90s, 3m; a bare number "
      + "is seconds) with a draining savepoint: the trainer publishes its final model; default: until the stream ends")
  String duration;

  @Option(names = "--records", paramLabel = "N", description = "training records of the stream (default: "
      + "fashion-mnist 0 = the whole training split, one epoch of 60,000; synthetic 20000)")
  Long records;

  @Option(names = "--heldout", paramLabel = "N", description = "held-out records for P@1 / MAP@R (default: "
      + "fashion-mnist 10000 = the whole t10k split; synthetic 1000)")
  Integer heldout;

  @Option(names = "--epochs", paramLabel = "N", description = "fashion-mnist: passes over the 60,000 training images, "
      + "each in its own seeded order (default: 1)")
  Integer epochs;

  @Option(names = "--evaluate", paramLabel = "MODE", description = "which model versions are scored on the held-out "
      + "set: latest (default: the newest whenever the evaluator is free, plus the untrained and the final version; "
      + "never slows the trainer), every (each version, in order) or none (no evaluation)")
  String evaluate;

  @Option(names = "--parallelism", paramLabel = "N", description = "trainer replicas (data-parallel training on "
      + "LibTorch's Gloo collectives; batch_size is the global batch, a multiple of N; default 1)")
  Integer parallelism;

  @Option(names = "--threads", paramLabel = "T", description = "ATen and OpenBLAS threads of each trainer replica "
      + "(job key trainer_threads; default: the trainer config's, 1 for the default trainer); replicas x threads "
      + "should not exceed the cores")
  Integer threads;

  @Option(names = "--device", paramLabel = "DEVICE", description = "where the trainer runs (job key device): cpu "
      + "(default), cuda (replica r of --parallelism N on cuda:(r mod GPUs), all-reducing through NCCL), cuda:N or "
      + "auto; CUDA needs a build with -Pcuda and a GPU")
  String device;

  @Option(names = "--web-ui-port", paramLabel = "PORT", description = "Flink Web UI port, 0 for any free one "
      + "(default: 8081, or a free one when 8081 is taken)")
  Integer webUiPort;

  @Option(names = "--keep-ui", paramLabel = "SECONDS", description = "keep the Web UI up this long after the job "
      + "(default: ${DEFAULT-VALUE})")
  int keepUi = 0;

  @Option(names = "--retrieval", description = "also build the versioned retrieval index (catalog: the training "
      + "split, queries: t10k paced over the run; answers in retrieval-answers.jsonl, summary.json \"retrieval\"); "
      + "keys retrieval.* via --set")
  boolean retrieval;

  @Option(names = "--set", paramLabel = "KEY=VALUE", description = "any other StreamingJob key (repeatable; --keys "
      + "lists them), e.g. --set batch_size=128 --set publish_every_steps=25 --set trainer.optimizer='{\"class\": "
      + "\"Adam\", ...}' --set restore_from=DIR/savepoints/savepoint-...")
  List<String> sets = new ArrayList<>();

  @Option(names = "--keys", description = "list every job key (for --set and --config) with its default, and exit")
  boolean keys;

  @Override
  public Integer call() throws Exception {
    if (keys) {
      spec.commandLine().getOut().print(JobConfigReader.keysHelp());
      spec.commandLine().getOut().flush();
      return 0;
    }
    List<String> args = new ArrayList<>();
    JsonNode file = null;
    if (config != null) {
      if (!Files.isRegularFile(config)) {
        throw new IllegalArgumentException("--config: no such file " + config);
      }
      file = JobConfigReader.readFile(config);
      args.add("--config");
      args.add(config.toString());
    }
    String ds = dataset != null ? dataset.trim().toLowerCase(Locale.ROOT)
        : file != null && file.hasNonNull("dataset") ? file.get("dataset").asText() : null;
    String why;
    if (ds == null) {
      boolean present = Files.exists(Path.of(FashionMnist.DEFAULT_DIR, "train-images-idx3-ubyte.gz"))
          || Files.exists(Path.of(FashionMnist.DEFAULT_DIR, "train-images-idx3-ubyte"));
      ds = present ? "fashion-mnist" : "synthetic";
      why = present ? "found in " + FashionMnist.DEFAULT_DIR
          : "Fashion-MNIST not found in " + FashionMnist.DEFAULT_DIR + " (Debian package dataset-fashion-mnist)";
    } else {
      why = dataset != null ? "--dataset" : "from " + config;
    }
    if (dataset != null && !StreamJobConfig.DATASETS.contains(ds)) {
      throw new IllegalArgumentException("--dataset: unknown dataset '" + dataset + "'"
          + org.pml4j.spec.Messages.didYouMean(ds, StreamJobConfig.DATASETS) + "; use one of "
          + String.join(", ", StreamJobConfig.DATASETS));
    }
    add(args, "dataset", ds);
    add(args, "output_dir", out.toAbsolutePath().toString());
    add(args, "web_ui_port", Integer.toString(webUiPort != null ? webUiPort : portFree(8081) ? 8081 : 0));
    add(args, "keep_ui_seconds", Integer.toString(keepUi));
    boolean fileSets = file != null && file.has("train_records");
    if (records != null) {
      add(args, "train_records", Long.toString(records));
    } else if (!fileSets && (ds.equals("fashion-mnist") || ds.equals("synthetic"))) {
      add(args, "train_records", ds.equals("fashion-mnist") ? "0" : "20000");
    }
    if (heldout != null) {
      add(args, "heldout_records", Integer.toString(heldout));
    } else if (!(file != null && file.has("heldout_records"))) {
      add(args, "heldout_records", ds.equals("fashion-mnist") ? "10000" : "1000");
    }
    if (evaluate != null) {
      add(args, "evaluate", evaluate);
    }
    if (epochs != null) {
      add(args, "epochs", Integer.toString(epochs));
    }
    if (duration != null) {
      add(args, "duration_seconds", Double.toString(parseDuration(duration)));
    }
    if (retrieval) {
      add(args, "retrieval.enabled", "true");
    }
    if (parallelism != null) {
      add(args, "trainer_parallelism", Integer.toString(parallelism));
    }
    if (threads != null) {
      add(args, "trainer_threads", Integer.toString(threads));
    }
    if (device != null) {
      add(args, "device", device);
    }
    for (String s : sets) {
      int eq = s.indexOf('=');
      if (eq < 1) {
        throw new IllegalArgumentException("--set expects KEY=VALUE, got '" + s + "'");
      }
      add(args, s.substring(0, eq), s.substring(eq + 1));
    }
    StreamJobConfig c = StreamJobConfig.fromArgs(args.toArray(String[]::new));
    try {
      OutputDirectory.check(c.outputDir); // before any output: --out must be new, empty or ours
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--out: " + e.getMessage(), e);
    }
    PrintStream o = System.out;
    o.println("pml4j stream: dataset " + c.dataset + " (" + why + ")" + (c.dataset.equals("synthetic")
        ? ", seeded synthetic clusters: " + c.synthetic.classes + " classes, " + c.synthetic.dimension + " features"
        : "") + "; " + (c.trainRecords > 0 ? c.trainRecords : "all") + " training records"
        + (c.epochs > 1 ? " x " + c.epochs + " epochs" : "") + ", " + c.heldoutRecords
        + " held out, batches of "
        + c.batchSize + ", a model version every " + c.publishEverySteps + " steps"
        + (c.durationSeconds > 0 ? ", at most " + c.durationSeconds + " s" : ""));
    Path dir = Path.of(c.outputDir);
    Progress progress = new Progress(dir, System.out);
    // The job's own lines (Web UI address, summary) come after the progress lines that precede them.
    o = new PrintStream(System.out, true) {
      @Override
      public void println(String x) {
        progress.poll();
        super.println(x);
      }
    };
    Thread t = new Thread(progress, "pml4j-stream-progress");
    t.setDaemon(true);
    JsonNode summary;
    try {
      t.start();
      summary = StreamingJob.run(c, TrainerFactory.DEFAULT, o);
    } finally {
      progress.stop();
      t.join(5000);
    }
    progress.poll(); // the last lines
    Path png = dir.resolve("quality.png");
    QualityPlot.write(summary, "pml4j stream: " + c.dataset + " (" + summary.path("model_versions").asInt()
        + " model versions)", png);
    o.println("pml4j stream: models in " + dir.resolve(StreamingJob.MODELS) + ", plot " + png);
    return 0;
  }

  private static boolean portFree(int port) {
    try (java.net.ServerSocket s = new java.net.ServerSocket()) {
      s.bind(new java.net.InetSocketAddress("localhost", port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static void add(List<String> args, String key, String value) {
    args.add("--" + key);
    args.add(value);
  }

  /** {@code 90}, {@code 90s}, {@code 1.5m}, {@code 2h}, or ISO-8601 {@code PT90S}: seconds. */
  static double parseDuration(String s) {
    String d = s.trim().toLowerCase(Locale.ROOT);
    try {
      if (d.startsWith("pt")) {
        return java.time.Duration.parse(d.toUpperCase(Locale.ROOT)).toMillis() / 1000.0;
      }
      double mult = 1;
      if (d.endsWith("ms")) {
        mult = 0.001;
        d = d.substring(0, d.length() - 2);
      } else if (d.endsWith("s")) {
        d = d.substring(0, d.length() - 1);
      } else if (d.endsWith("m") || d.endsWith("min")) {
        mult = 60;
        d = d.substring(0, d.length() - (d.endsWith("min") ? 3 : 1));
      } else if (d.endsWith("h")) {
        mult = 3600;
        d = d.substring(0, d.length() - 1);
      }
      double v = Double.parseDouble(d.trim()) * mult;
      if (!(v > 0)) {
        throw new NumberFormatException();
      }
      return v;
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--duration: expected e.g. 90s, 3m or PT2M, got '" + s + "'");
    }
  }

  /** Follows model_updates.jsonl and evaluations.jsonl: one line per published and per evaluated model version. */
  private static final class Progress implements Runnable {
    private final Path updates;
    private final Path evals;
    private final PrintStream out;
    private final Map<Long, JsonNode> updateByVersion = new HashMap<>();
    private int updateLines;
    private int evalLines;
    private volatile boolean stopped;

    Progress(Path dir, PrintStream out) {
      this.updates = dir.resolve(StreamingJob.MODEL_UPDATES);
      this.evals = dir.resolve(StreamingJob.EVALUATIONS);
      this.out = out;
    }

    void stop() {
      stopped = true;
    }

    @Override
    public void run() {
      while (!stopped) {
        try {
          Thread.sleep(500);
          poll();
        } catch (InterruptedException e) {
          return;
        } catch (RuntimeException e) {
          // a half-written line: read again next time
        }
      }
    }

    synchronized void poll() {
      List<String> u = lines(updates);
      for (; updateLines < u.size(); updateLines++) {
        JsonNode n = parse(u.get(updateLines));
        if (n == null) {
          break;
        }
        long v = n.path("version").asLong();
        updateByVersion.put(v, n);
        JsonNode m = n.path("metrics");
        out.printf(Locale.ROOT, "  model v%-3d step %6d  %s%n", v, n.path("step").asLong(), v == 0
            && n.path("step").asLong() == 0 ? "(untrained)" : String.format(Locale.ROOT,
                "loss %.4f (mean since the previous version)  %.0f samples/s in train steps", m.path("loss").asDouble(),
                m.path("samples_per_sec").asDouble()));
      }
      List<String> e = lines(evals);
      for (; evalLines < e.size(); evalLines++) {
        JsonNode n = parse(e.get(evalLines));
        if (n == null) {
          break;
        }
        out.printf(Locale.ROOT, "  eval  v%-3d step %6d  P@1 %.4f  MAP@R %.4f  (%d held-out records)%n",
            n.path("version").asLong(), n.path("step").asLong(), n.path("precision_at_1").asDouble(),
            n.path("mean_average_precision_at_r").asDouble(), n.path("samples").asInt());
      }
    }

    private static List<String> lines(Path p) {
      try {
        return Files.exists(p) ? Files.readAllLines(p) : List.of();
      } catch (IOException e) {
        return List.of();
      }
    }

    private static JsonNode parse(String line) {
      try {
        return line.isBlank() ? null : JSON.readTree(line);
      } catch (IOException e) {
        return null;
      }
    }
  }
}
