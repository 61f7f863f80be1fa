package org.pml4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.pml4j.spec.Messages;

/** Spec arguments: inline JSON, a path to a JSON file, or a bare class name ({@code ContrastiveLoss}). */
final class SpecArgs {
  static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private SpecArgs() {}

  /**
   * Parses a spec argument.
   *
   * @throws IllegalArgumentException when it is none of the three forms, naming the option
   */
  static JsonNode read(String option, String arg) {
    String s = arg.trim();
    if (s.startsWith("{") || s.startsWith("\"")) {
      try {
        return JSON.readTree(s);
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException(Messages.jsonError(option, e));
      }
    }
    Path p = Path.of(s);
    if (Files.isRegularFile(p)) {
      try {
        return JSON.readTree(Files.readString(p));
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException(Messages.jsonError(option + " " + p, e));
      } catch (IOException e) {
        throw new IllegalArgumentException(option + ": cannot read " + p + ": " + e);
      }
    }
    if (s.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      return TextNode.valueOf(s);
    }
    throw new IllegalArgumentException(option + ": '" + arg + "' is neither inline JSON, nor a JSON file, nor a "
        + "class name");
  }
}
