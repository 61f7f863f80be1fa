package org.pml4j.spec;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.Collection;
import java.util.Locale;

/**
 * Error-message helpers shared by the registry, the stream job's configuration and the command line: "did you mean"
 * suggestions and JSON syntax errors without the parser's internals.
 */
public final class Messages {
  private Messages() {}

  /**
   * The candidate closest to {@code typed} (case-insensitive edit distance, {@code -} and {@code _} ignored), or null
   * when none is close: at most 2 edits, or a third of the name's length for long names.
   */
  public static String closest(String typed, Collection<String> candidates) {
    if (typed == null) {
      return null;
    }
    String t = key(typed);
    String best = null;
    int bestD = Integer.MAX_VALUE;
    for (String c : candidates) {
      int d = distance(t, key(c));
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    return best != null && bestD <= Math.max(2, t.length() / 3) ? best : null;
  }

  /** {@code "; did you mean X?"} for the closest candidate, or the empty string. */
  public static String didYouMean(String typed, Collection<String> candidates) {
    String c = closest(typed, candidates);
    return c == null ? "" : "; did you mean " + c + "?";
  }

  /**
   * A JSON syntax error as {@code SOURCE: not valid JSON at line L, column C: WHAT} (the parser's message without its
   * source description and internals).
   *
   * @param source what was parsed, e.g. a file name or an option ({@code --loss})
   */
  public static String jsonError(String source, JsonProcessingException e) {
    String what = e.getOriginalMessage();
    // Jackson appends hints about features and the source ("... (for Object starting at ...)"): keep the first line.
    int nl = what == null ? -1 : what.indexOf('\n');
    if (nl > 0) {
      what = what.substring(0, nl);
    }
    JsonLocation loc = e.getLocation();
    String where = loc == null || loc.getLineNr() < 1 ? ""
        : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
    return source + ": not valid JSON" + where + ": " + what;
  }

  private static String key(String s) {
    return s.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
