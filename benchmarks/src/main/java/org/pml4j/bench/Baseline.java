package org.pml4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The PML figures {@code pml4j bench} compares with: either measured on this machine by PML's benchmark script
 * {@code bench_pml.py}, not in this repository (one or more of its JSON outputs, typically one run with 1 thread and
 * one with 2; per config and figure the faster run is the baseline), or, when no such file is given, the figures
 * recorded once on another machine ({@link PmlBaseline}), which are not a side-by-side comparison.
 */
public final class Baseline {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What {@link #describe()} and the JSON say when no measured figures were given. */
  public static final String RECORDED = "recorded reference figures from another machine";

  /**
   * Where a figure comes from.
   *
   * @param file the bench_pml.py output it was read from, or null for the recorded figures
   * @param threads PML's {@code torch.set_num_threads} in that run (-1 for the recorded figures: not recorded)
   * @param machine what the run says about its machine and software ({@code cpu}, PML and torch versions)
   * @param batch the run's batch size (0: not stated)
   * @param embedding its embedding size (0: not stated)
   * @param trainSize its training rows (0: not stated)
   */
  public record Source(String file, int threads, String machine, int batch, int embedding, int trainSize) {
    /** Whether it is a measured run (not the recorded figures). */
    public boolean measured() {
      return file != null;
    }

    /** {@code pml-t1.json, 1 thread} or the recorded-figures phrase. */
    public String describe() {
      return file == null ? RECORDED : String.format(Locale.ROOT, "%s, %d thread%s", file, threads,
          threads == 1 ? "" : "s");
    }

    ObjectNode toJson() {
      ObjectNode n = JSON.createObjectNode();
      if (file == null) {
        n.put("source", RECORDED);
      } else {
        n.put("file", file);
        n.put("threads", threads);
        n.put("machine", machine);
      }
      return n;
    }
  }

  /**
   * One config's baseline.
   *
   * @param lossStepsPerSec PML's loss (+ miner) forward+backward steps/s (its {@code micro} figure)
   * @param lossSource the run it comes from (the faster one)
   * @param trainStepsPerSec PML's training steps/s over the epoch
   * @param trainSource the run it comes from (the faster one)
   * @param precisionAt1 precision_at_1 of PML's trained encoder (from {@code trainSource})
   * @param mapAtR mean_average_precision_at_r of it
   */
  public record ConfigFigures(double lossStepsPerSec, Source lossSource, double trainStepsPerSec, Source trainSource,
      double precisionAt1, double mapAtR) {}

  private static final Source RECORDED_SOURCE = new Source(null, -1,
      "2-core machine of this kind, measured once (PmlBaseline)", 256, 128, 60_000);

  private final List<Source> runs;
  private final Map<String, ConfigFigures> configs;
  private final double untrainedPrecisionAt1;
  private final double untrainedMapAtR;

  private Baseline(List<Source> runs, Map<String, ConfigFigures> configs, double untrainedPrecisionAt1,
      double untrainedMapAtR) {
    this.runs = List.copyOf(runs);
    this.configs = Collections.unmodifiableMap(configs);
    this.untrainedPrecisionAt1 = untrainedPrecisionAt1;
    this.untrainedMapAtR = untrainedMapAtR;
  }

  /** The figures recorded once on another machine ({@link PmlBaseline}). */
  public static Baseline recorded() {
    Map<String, ConfigFigures> m = new LinkedHashMap<>();
    PmlBaseline.CONFIGS.forEach((name, f) -> m.put(name, recordedFigures(f)));
    return new Baseline(List.of(), m, PmlBaseline.UNTRAINED_PRECISION_AT_1, PmlBaseline.UNTRAINED_MAP_AT_R);
  }

  private static ConfigFigures recordedFigures(PmlBaseline.Figures f) {
    return new ConfigFigures(f.lossStepsPerSec(), RECORDED_SOURCE, f.trainStepsPerSec(), RECORDED_SOURCE,
        f.precisionAt1(), f.mapAtR());
  }

  /**
   * The figures of bench_pml.py runs (its stdout, one JSON line; other lines before it are ignored). Per config,
   * PML's loss steps/s and training steps/s are each the faster of the runs that have the config; the retrieval
   * figures come from the run with the faster training. A config that no file has keeps the recorded figures
   * (its source says so).
   *
   * @param files one or more bench_pml.py outputs
   * @throws IllegalArgumentException for no files, or a file that is missing, unreadable or not bench_pml.py's
   *     output (the message names the file and what is wrong)
   */
  public static Baseline fromPmlJson(List<Path> files) {
    if (files == null || files.isEmpty()) {
      throw new IllegalArgumentException("--pml-json: no file given");
    }
    List<Source> runs = new ArrayList<>();
    List<JsonNode> docs = new ArrayList<>();
    for (Path f : files) {
      JsonNode doc = read(f);
      String machine = String.format(Locale.ROOT, "cpu %s, PML %s, torch %s", doc.path("cpu").asText("?"),
          doc.path("pml_version").asText("?"), doc.path("torch_version").asText("?"));
      runs.add(new Source(f.toString(), doc.get("threads").asInt(), machine, doc.path("batch").asInt(0),
          doc.path("emb_dim").asInt(0), doc.path("train_size").asInt(0)));
      docs.add(doc);
    }
    Map<String, ConfigFigures> m = new LinkedHashMap<>();
    List<String> names = new ArrayList<>(PmlBaseline.CONFIGS.keySet());
    for (JsonNode d : docs) {
      d.get("train").fieldNames().forEachRemaining(n -> {
        if (!names.contains(n)) {
          names.add(n);
        }
      });
    }
    for (String name : names) {
      int bestLoss = -1;
      int bestTrain = -1;
      for (int i = 0; i < docs.size(); i++) {
        JsonNode d = docs.get(i);
        if (d.get("micro").has(name) && (bestLoss < 0 || rate(d, "micro", name) > rate(docs.get(bestLoss), "micro",
            name))) {
          bestLoss = i;
        }
        if (d.get("train").has(name) && (bestTrain < 0 || rate(d, "train", name) > rate(docs.get(bestTrain),
            "train", name))) {
          bestTrain = i;
        }
      }
      if (bestLoss < 0 && bestTrain < 0) {
        if (PmlBaseline.CONFIGS.containsKey(name)) {
          m.put(name, recordedFigures(PmlBaseline.CONFIGS.get(name)));
        }
        continue;
      }
      PmlBaseline.Figures rec = PmlBaseline.CONFIGS.get(name);
      double loss = bestLoss >= 0 ? rate(docs.get(bestLoss), "micro", name) : rec == null ? Double.NaN
          : rec.lossStepsPerSec();
      Source lossSource = bestLoss >= 0 ? runs.get(bestLoss) : RECORDED_SOURCE;
      double train = bestTrain >= 0 ? rate(docs.get(bestTrain), "train", name) : rec == null ? Double.NaN
          : rec.trainStepsPerSec();
      Source trainSource = bestTrain >= 0 ? runs.get(bestTrain) : RECORDED_SOURCE;
      JsonNode ret = bestTrain >= 0 ? docs.get(bestTrain).path("retrieval").path(name) : null;
      double p1 = ret != null && ret.has("precision_at_1") ? ret.get("precision_at_1").asDouble()
          : rec == null ? Double.NaN : rec.precisionAt1();
      double map = ret != null && ret.has("mean_average_precision_at_r")
          ? ret.get("mean_average_precision_at_r").asDouble() : rec == null ? Double.NaN : rec.mapAtR();
      m.put(name, new ConfigFigures(loss, lossSource, train, trainSource, p1, map));
    }
    JsonNode untrained = docs.get(0).path("retrieval").path("untrained_init");
    return new Baseline(runs, m, untrained.path("precision_at_1").asDouble(PmlBaseline.UNTRAINED_PRECISION_AT_1),
        untrained.path("mean_average_precision_at_r").asDouble(PmlBaseline.UNTRAINED_MAP_AT_R));
  }

  private static double rate(JsonNode doc, String section, String name) {
    return doc.get(section).get(name).get("steps_per_sec").asDouble();
  }

  /** Reads and checks one bench_pml.py output. */
  static JsonNode read(Path f) {
    if (f == null) {
      throw new IllegalArgumentException("--pml-json: file must not be null");
    }
    String text;
    try {
      if (Files.isDirectory(f)) {
        throw new IllegalArgumentException("--pml-json " + f + ": is a directory, not bench_pml.py's output");
      }
      text = Files.readString(f);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("--pml-json " + f + ": no such file", e);
    } catch (IOException e) {
      throw new IllegalArgumentException("--pml-json " + f + ": cannot read it (" + e + ")", e);
    }
    String line = null;
    for (String l : text.split("\n")) {
      if (l.strip().startsWith("{")) {
        line = l.strip();
      }
    }
    if (line == null) {
      throw new IllegalArgumentException("--pml-json " + f + ": no JSON line (expected bench_pml.py's stdout)");
    }
    JsonNode doc;
    try {
      doc = JSON.readTree(line);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("--pml-json " + f + ": its last JSON line does not parse: "
          + e.getOriginalMessage(), e);
    }
    if (!doc.path("threads").isInt() || doc.get("threads").asInt() < 1) {
      throw new IllegalArgumentException("--pml-json " + f + ": no \"threads\" count (expected bench_pml.py's "
          + "output)");
    }
    for (String section : List.of("micro", "train")) {
      JsonNode s = doc.path(section);
      if (!s.isObject()) {
        throw new IllegalArgumentException("--pml-json " + f + ": no \"" + section + "\" object (expected "
            + "bench_pml.py's output)");
      }
      s.fields().forEachRemaining(e -> {
        JsonNode r = e.getValue().path("steps_per_sec");
        if (!r.isNumber() || !(r.asDouble() > 0) || !Double.isFinite(r.asDouble())) {
          throw new IllegalArgumentException("--pml-json " + f + ": " + section + "." + e.getKey()
              + ".steps_per_sec must be a positive number, got " + r);
        }
      });
    }
    if (doc.get("train").size() == 0 && doc.get("micro").size() == 0) {
      throw new IllegalArgumentException("--pml-json " + f + ": no config in \"micro\" or \"train\"");
    }
    return doc;
  }

  /**
   * What differs between the PML runs and this pml4j run's setup (batch size, embedding size, training rows), one
   * line per run and difference; empty when they agree or a run does not state them.
   */
  public List<String> mismatches(int batch, int embedding, int trainSize) {
    List<String> out = new ArrayList<>();
    List<Source> all = new ArrayList<>(runs);
    if (all.isEmpty()) {
      all.add(RECORDED_SOURCE);
    }
    for (Source r : all) {
      String who = r.measured() ? r.file() : RECORDED;
      if (r.batch() > 0 && r.batch() != batch) {
        out.add(who + ": PML ran batch " + r.batch() + ", this run " + batch);
      }
      if (r.embedding() > 0 && r.embedding() != embedding) {
        out.add(who + ": PML ran embedding size " + r.embedding() + ", this run " + embedding);
      }
      if (r.trainSize() > 0 && r.trainSize() != trainSize) {
        out.add(who + ": PML trained on " + r.trainSize() + " rows, this run on " + trainSize);
      }
    }
    return out;
  }

  /** Whether any figure was measured (a bench_pml.py file was given). */
  public boolean measured() {
    return !runs.isEmpty();
  }

  /** The bench_pml.py runs read, in the order given (empty for the recorded figures). */
  public List<Source> runs() {
    return runs;
  }

  /**
   * The figures of one config.
   *
   * @throws IllegalArgumentException when there are none for it
   */
  public ConfigFigures figures(String config) {
    ConfigFigures f = configs.get(config);
    if (f == null) {
      throw new IllegalArgumentException("no PML baseline for config '" + config + "'");
    }
    return f;
  }

  /** Every config's figures. */
  public Map<String, ConfigFigures> configs() {
    return configs;
  }

  /** precision_at_1 of PML's untrained encoder. */
  public double untrainedPrecisionAt1() {
    return untrainedPrecisionAt1;
  }

  /** mean_average_precision_at_r of PML's untrained encoder. */
  public double untrainedMapAtR() {
    return untrainedMapAtR;
  }

  /** One line on the baseline used; for the recorded figures, in capitals with a warning. */
  public String describe() {
    if (!measured()) {
      return "PML BASELINE: " + RECORDED.toUpperCase(Locale.ROOT) + " (measured once, not side by side with this "
          + "run: the ratios are indicative only; give --pml-json FILE from PML's bench_pml.py, run on "
          + "this machine, for a fair comparison)";
    }
    StringBuilder b = new StringBuilder("PML baseline: measured on this machine by bench_pml.py, per config and "
        + "figure the faster of: ");
    for (int i = 0; i < runs.size(); i++) {
      b.append(i == 0 ? "" : "; ").append(runs.get(i).describe()).append(" (").append(runs.get(i).machine())
          .append(')');
    }
    boolean anyRecorded = configs.values().stream().anyMatch(c -> !c.lossSource().measured()
        || !c.trainSource().measured());
    if (anyRecorded) {
      b.append("; configs missing from these files use the ").append(RECORDED);
    }
    return b.toString();
  }

  /**
   * {@code {"kind": "measured"|"recorded", "description", "runs": [{file, threads, machine}], "configs": {name:
   * {"loss": source, "train": source}}}}.
   */
  public ObjectNode toJson() {
    ObjectNode n = JSON.createObjectNode();
    n.put("kind", measured() ? "measured" : "recorded");
    n.put("description", describe());
    var rs = n.putArray("runs");
    runs.forEach(r -> rs.add(r.toJson()));
    ObjectNode cs = n.putObject("configs");
    configs.forEach((name, f) -> {
      ObjectNode c = cs.putObject(name);
      c.set("loss", f.lossSource().toJson());
      c.set("train", f.trainSource().toJson());
    });
    return n;
  }
}
