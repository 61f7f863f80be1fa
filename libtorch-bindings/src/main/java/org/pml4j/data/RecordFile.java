package org.pml4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.pml4j.spec.Params;

/**
 * The labeled records of a csv or jsonl file (or of a directory of them, its files in name order, hidden ones
 * — names starting with {@code .} or {@code _} — skipped, as Flink's file source does): the sources {@code csv} and
 * {@code jsonl} of {@link DataSources}. Lines are read by {@link RecordReader} and checked by
 * {@link Rejection#check} (a label is required; the dimension is the {@code dimension} option, or that of the first
 * readable record), the same rule as the streaming job's validation.
 *
 * <p><b>Bad lines are rejected, not fatal</b>: a line that cannot be read or fails the check is left out and counted
 * ({@link #rejections()}: per reason, the first few with their line numbers), as {@code pml4j stream} sends it to its
 * rejected output; {@code pml4j train} prints the count and the first reasons and writes the counts to
 * metrics.json. A file without one usable record is an error.
 *
 * <p>Options (snake_case, the keys of {@code pml4j stream}'s csv and jsonl datasets): {@code train_path} (the train
 * split), {@code heldout_path} (the test split), {@code dimension} (features per record; default: from the data) and
 * {@code max_abs_feature} (the magnitude bound of a feature, 0 for none; default {@value Rejection#DEFAULT_MAX_ABS}).
 * Each split needs only its own path.
 *
 * <p>The file is read whole on first use and kept in memory ({@code transient}: a deserialized copy reads it again).
 */
public final class RecordFile implements DataSource {
  private static final long serialVersionUID = 1L;

  private final RecordReader.Format format;
  private final String name;
  private final String path;
  private final int dimension;
  private final double maxAbs;
  private transient Loaded loaded;

  private record Loaded(float[][] features, long[] labels, int dimension, Rejection.Summary rejections) {}

  /**
   * @param format the syntax
   * @param path a file, or a directory of files
   * @param split which split this file is (for {@link #name()})
   * @param dimension features per record, or 0 to take that of the first readable record
   * @param maxAbs the magnitude bound of a feature ({@link Rejection#OUT_OF_RANGE} beyond it), 0 for none
   * @throws IllegalArgumentException for a negative dimension or a negative or non-finite bound
   */
  public RecordFile(RecordReader.Format format, Path path, Split split, int dimension, double maxAbs) {
    if (dimension < 0) {
      throw new IllegalArgumentException(format.datasetName() + ".dimension must be >= 1 (0: from the data), got "
          + dimension);
    }
    if (!(maxAbs >= 0) || Double.isInfinite(maxAbs)) {
      throw new IllegalArgumentException(format.datasetName() + ".max_abs_feature must be a finite number >= 0 "
          + "(0: no bound), got " + maxAbs);
    }
    this.format = format;
    this.name = format.datasetName() + "/" + split.label();
    this.path = path.toAbsolutePath().toString();
    this.dimension = dimension;
    this.maxAbs = maxAbs;
  }

  @Override
  public String name() {
    return name;
  }

  /** The file or directory read. */
  public Path path() {
    return Path.of(path);
  }

  @Override
  public long size() {
    return data().labels().length;
  }

  @Override
  public long[] sampleShape() {
    return new long[] {data().dimension()};
  }

  @Override
  public Row row(long i) {
    Loaded d = data();
    if (i < 0 || i >= d.labels().length) {
      throw new IndexOutOfBoundsException(name + ": row " + i + " of " + d.labels().length);
    }
    return new Row(d.labels()[(int) i], d.features()[(int) i].clone());
  }

  /** The records left out (read on first use). */
  @Override
  public Rejection.Summary rejections() {
    return data().rejections();
  }

  private synchronized Loaded data() {
    if (loaded == null) {
      loaded = read();
    }
    return loaded;
  }

  private List<Path> files() {
    Path p = Path.of(path);
    if (!Files.exists(p)) {
      throw new IllegalArgumentException(name + ": no such file or directory " + p);
    }
    if (!Files.isDirectory(p)) {
      return List.of(p);
    }
    try (Stream<Path> s = Files.list(p)) {
      List<Path> out = s.filter(f -> Files.isRegularFile(f) && !f.getFileName().toString().startsWith(".")
          && !f.getFileName().toString().startsWith("_")).sorted().toList();
      if (out.isEmpty()) {
        throw new IllegalArgumentException(name + ": directory " + p + " has no data file");
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(name + ": cannot list " + p, e);
    }
  }

  private Loaded read() {
    List<Path> files = files();
    List<ParsedRecord> records = new ArrayList<>();
    List<String> lines = new ArrayList<>(); // where each record is, for the rejections of the validation
    for (Path f : files) {
      String where = files.size() > 1 ? f.getFileName() + ": " : "";
      try (RecordReader r = new RecordReader(Files.newBufferedReader(f, StandardCharsets.UTF_8), format)) {
        for (ParsedRecord rec; (rec = r.next()) != null; ) {
          records.add(where.isEmpty() ? rec : rec.located(where));
          lines.add(where + "line " + r.lineNumber() + ": ");
        }
      } catch (IOException e) {
        throw new UncheckedIOException(name + ": cannot read " + f + ": " + e.getMessage(), e);
      }
    }
    int dim = dimension;
    for (int i = 0; dim == 0 && i < records.size(); i++) {
      ParsedRecord r = records.get(i);
      if (r.readable() && r.features() != null && r.features().length > 0) {
        dim = r.features().length;
      }
    }
    List<float[]> x = new ArrayList<>();
    List<Long> y = new ArrayList<>();
    Map<String, Long> byReason = new LinkedHashMap<>();
    List<Rejection> first = new ArrayList<>();
    long rejected = 0;
    for (int i = 0; i < records.size(); i++) {
      ParsedRecord r = records.get(i);
      Rejection why = Rejection.check(r.rejection(), r.label(), r.features(), Math.max(dim, 1), true, maxAbs);
      if (why != null && r.readable()) {
        why = why.prefixed(lines.get(i)); // the parser's own rejections are located already
      }
      if (why == null) {
        x.add(r.features());
        y.add(r.label());
      } else {
        rejected++;
        byReason.merge(why.reason(), 1L, Long::sum);
        if (first.size() < Rejection.Summary.FIRST) {
          first.add(why);
        }
      }
    }
    Rejection.Summary summary = new Rejection.Summary(rejected, byReason, first);
    if (x.isEmpty()) {
      throw new IllegalArgumentException(name + ": no usable record in " + path + " (" + records.size()
          + " record" + (records.size() == 1 ? "" : "s") + (rejected > 0 ? ", rejected " + summary : "") + ")");
    }
    long[] labels = new long[y.size()];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = y.get(i);
    }
    return new Loaded(x.toArray(float[][]::new), labels, dim, summary);
  }

  /** Opens a split from the options of a {@code csv} or {@code jsonl} dataset (see the class comment). */
  static RecordFile open(RecordReader.Format format, Split split, JsonNode options) {
    String n = format.datasetName();
    Params p = Params.of(n, (ObjectNode) options);
    String train = p.getString("train_path", null);
    String heldout = p.getString("heldout_path", null);
    int dim = p.getInt("dimension", 0);
    double maxAbs = p.getDouble("max_abs_feature", Rejection.DEFAULT_MAX_ABS);
    p.done();
    String key = split == Split.TRAIN ? "train_path" : "heldout_path";
    String path = split == Split.TRAIN ? train : heldout;
    if (path == null || path.isBlank()) {
      throw new IllegalArgumentException(n + ": " + key + " is required for the " + split.label() + " split (a "
          + n + " file or a directory of them)");
    }
    Path file = Path.of(path).toAbsolutePath();
    if (!Files.exists(file)) {
      throw new IllegalArgumentException(n + "." + key + ": no such file or directory " + file);
    }
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException(n + "." + key + ": cannot read " + file);
    }
    return new RecordFile(format, file, split, dim, maxAbs);
  }

  /** The {@code csv} source: {@code label,f0,f1,...} lines, an optional header ({@link RecordParser}). */
  public static final class CsvProvider implements DataSourceProvider {
    @Override
    public String name() {
      return "csv";
    }

    @Override
    public DataSource open(Split split, JsonNode options) {
      return RecordFile.open(RecordReader.Format.CSV, split, options);
    }
  }

  /** The {@code jsonl} source: {@code {"id", "label", "vector"}} lines ({@link RecordParser}). */
  public static final class JsonlProvider implements DataSourceProvider {
    @Override
    public String name() {
      return "jsonl";
    }

    @Override
    public DataSource open(Split split, JsonNode options) {
      return RecordFile.open(RecordReader.Format.JSON_LINES, split, options);
    }
  }
}
