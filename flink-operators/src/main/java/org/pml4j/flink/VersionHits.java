package org.pml4j.flink;

import java.util.Arrays;

/** The top-k of a query in one model version of a {@link VersionedIndex}: ids and scores, best first. */
public record VersionHits(long version, long[] ids, float[] scores) {
  @Override
  public String toString() {
    return "VersionHits{v" + version + ", ids=" + Arrays.toString(ids) + ", scores=" + Arrays.toString(scores) + "}";
  }
}
