package org.pml4j.flink;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.pml4j.spec.Messages;

/**
 * The syntax of {@link StreamJobConfig}: command-line flags and JSON files onto the config's defaults, with errors
 * that name the key (and the closest known one), and the key list of {@code --keys} / {@code --help}.
 *
 * <p>Flags: {@code --config FILE} reads a JSON file; every other {@code --some-key VALUE} (or
 * {@code --some-key=VALUE}) sets {@code some_key} (dots reach into objects: {@code --synthetic.classes 8},
 * {@code --trainer.loss '{"class": "..."}'}); a value that parses as JSON is taken as JSON, otherwise as a string.
 * Flags apply after the file. Unknown keys are errors.
 */
public final class JobConfigReader {
  private JobConfigReader() {}

  /** Parses command-line flags (see the class comment) into a checked config. */
  public static StreamJobConfig fromArgs(String... args) {
    ObjectNode tree = StreamJobConfig.JSON.createObjectNode();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new IllegalArgumentException("expected --key value, got '" + a + "'");
      }
      String key = a.substring(2);
      String value;
      int eq = key.indexOf('=');
      if (eq >= 0) {
        value = key.substring(eq + 1);
        key = key.substring(0, eq);
      } else {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException("flag --" + key + " needs a value");
        }
        value = args[++i];
      }
      if (key.equals("config")) {
        merge(tree, readFile(Path.of(value)));
      } else {
        set(tree, key.replace('-', '_'), parseValue(value));
      }
    }
    return fromTree(tree);
  }

  /**
   * Maps a JSON tree onto the defaults and checks the result. An unknown key is an error naming it, with the closest
   * known key and the list of valid keys ({@link #keys()}).
   */
  public static StreamJobConfig fromTree(JsonNode tree) {
    try {
      StreamJobConfig c = new StreamJobConfig();
      StreamJobConfig.JSON.readerForUpdating(c).readValue(tree);
      c.check();
      return c;
    } catch (UnrecognizedPropertyException e) {
      String key = dotted(e, e.getPropertyName());
      String prefix = key.contains(".") ? key.substring(0, key.lastIndexOf('.') + 1) : "";
      List<String> valid = new ArrayList<>();
      for (String k : keys().keySet()) {
        if (k.startsWith(prefix) && (prefix.isEmpty() || !k.substring(prefix.length()).contains("."))) {
          valid.add(prefix.isEmpty() && k.contains(".") ? k.substring(0, k.indexOf('.')) + ".*" : k);
        }
      }
      valid = valid.stream().distinct().toList();
      throw new IllegalArgumentException("unknown key '" + key + "'" + Messages.didYouMean(key, keys().keySet())
          + "; valid keys: " + String.join(", ", valid) + " (defaults: pml4j stream --keys)", e);
    } catch (JsonMappingException e) {
      String first = e.getOriginalMessage() == null ? String.valueOf(e) : e.getOriginalMessage().split("\n")[0];
      throw new IllegalArgumentException("key '" + dotted(e, null) + "': " + first, e);
    } catch (IOException e) {
      throw new IllegalArgumentException("bad stream job config: " + e.getMessage(), e);
    }
  }

  private static String dotted(JsonMappingException e, String last) {
    List<String> parts = new ArrayList<>();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        parts.add(r.getFieldName());
      }
    }
    if (last != null && (parts.isEmpty() || !parts.get(parts.size() - 1).equals(last))) {
      parts.add(last);
    }
    return String.join(".", parts);
  }

  /**
   * Every key with its default value, nested objects as dotted keys ({@code synthetic.classes}), in declaration
   * order. {@code trainer} (null: the dataset's default) is one key holding a JSON object.
   */
  public static Map<String, JsonNode> keys() {
    return flatten(new StreamJobConfig());
  }

  /**
   * The key list of {@code --keys} / {@code --help}: one line per key with its default ({@code null}: unset), for
   * {@code --set KEY=VALUE}, {@code --KEY VALUE} or a {@code --config} JSON file.
   */
  public static String keysHelp() {
    StringBuilder b = new StringBuilder("StreamingJob keys (snake_case; in a --config JSON file nested as "
        + "{\"synthetic\": {\"classes\": 8}}, as flags dotted: synthetic.classes), with their defaults:\n");
    for (Map.Entry<String, JsonNode> e : keys().entrySet()) {
      b.append("  ").append(e.getKey()).append(" = ").append(e.getValue().isNull() ? "null"
          : e.getValue().toString()).append('\n');
    }
    b.append("dataset: ").append(String.join(" | ", StreamJobConfig.DATASETS)).append("; trainer = null: the "
        + "dataset's default trainer (encoder, loss, miner, optimizer, memory_size, seed, threads, device as JSON); "
        + "device: cpu | cuda | cuda:N | auto (null: the trainer's, cpu); "
        + "restore_from: a checkpoint (DIR/checkpoints/<job>/chk-N) or savepoint (DIR/savepoints/savepoint-...) to "
        + "continue from; checkpoint_interval_ms = null: " + StreamJobConfig.DEFAULT_CHECKPOINT_INTERVAL_MS
        + ", or " + StreamJobConfig.RETRIEVAL_CHECKPOINT_INTERVAL_MS
        + " with retrieval.enabled (0: no checkpoints).\n");
    return b.toString();
  }

  /** A config's values by dotted key (the keys of {@link #keys()}). */
  static Map<String, JsonNode> flatten(StreamJobConfig c) {
    Map<String, JsonNode> out = new LinkedHashMap<>();
    flatten("", StreamJobConfig.JSON.valueToTree(c), out);
    return out;
  }

  private static void flatten(String prefix, JsonNode n, Map<String, JsonNode> out) {
    for (Map.Entry<String, JsonNode> e : n.properties()) {
      if (e.getValue().isObject() && !e.getKey().equals("trainer")) {
        flatten(prefix + e.getKey() + ".", e.getValue(), out);
      } else {
        out.put(prefix + e.getKey(), e.getValue());
      }
    }
  }

  /**
   * Reads a JSON config file.
   *
   * @throws IllegalArgumentException naming the file when it is missing or not valid JSON (with line and column)
   */
  public static JsonNode readFile(Path p) {
    if (!Files.isRegularFile(p)) {
      throw new IllegalArgumentException("config file " + p + " does not exist or is not a file");
    }
    try {
      JsonNode n = StreamJobConfig.JSON.readTree(Files.readString(p));
      if (n == null || !n.isObject()) {
        throw new IllegalArgumentException("config file " + p + ": expected a JSON object {\"key\": value, ...}");
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(Messages.jsonError("config file " + p, e), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read config file " + p, e);
    }
  }

  /**
   * A flag's value: JSON when the whole value is JSON (a number, boolean, object...), else the text. Trailing text
   * makes it text ({@code "4 parsecs"} is not the number 4), so a typed key then refuses it by name.
   */
  private static JsonNode parseValue(String v) {
    try {
      JsonNode n = StreamJobConfig.JSON.reader()
          .with(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(v);
      return n == null ? TextNode.valueOf(v) : n;
    } catch (IOException e) {
      return TextNode.valueOf(v);
    }
  }

  private static void set(ObjectNode tree, String dotted, JsonNode value) {
    String[] parts = dotted.split("\\.");
    ObjectNode n = tree;
    for (int i = 0; i < parts.length - 1; i++) {
      JsonNode child = n.get(parts[i]);
      if (!(child instanceof ObjectNode)) {
        child = n.putObject(parts[i]);
      }
      n = (ObjectNode) child;
    }
    n.set(parts[parts.length - 1], value);
  }

  private static void merge(ObjectNode into, JsonNode from) {
    for (Map.Entry<String, JsonNode> e : from.properties()) {
      JsonNode old = into.get(e.getKey());
      if (old instanceof ObjectNode o && e.getValue().isObject() && !e.getKey().equals("trainer")) {
        merge(o, e.getValue());
      } else {
        into.set(e.getKey(), e.getValue());
      }
    }
  }
}
