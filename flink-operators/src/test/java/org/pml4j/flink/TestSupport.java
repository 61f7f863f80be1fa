package org.pml4j.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.pml4j.train.TrainerConfig;

/** Shared pieces of the Flink tests: a tiny trainer config, environments with real checkpoints, collecting sinks. */
final class TestSupport {
  static final ObjectMapper JSON = new ObjectMapper();

  private TestSupport() {}

  /** One TaskManager with 4 slots (2 shared cores: keep jobs small). */
  static MiniClusterExtension miniCluster() {
    Configuration conf = new Configuration();
    return new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder().setConfiguration(conf)
        .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(4).build());
  }

  /** Encoder dim → 16 → ReLU → emb → L2Normalize; TripletMarginLoss(margin 0.2); Adam(lr 0.01); one thread. */
  static TrainerConfig tinyConfig(int dim, int emb, long seed) {
    String s = """
        {"encoder": {"class": "Sequential", "params": {"layers": [
            {"class": "Linear", "params": {"in_features": %d, "out_features": 16}},
            {"class": "ReLU"},
            {"class": "Linear", "params": {"in_features": 16, "out_features": %d}},
            {"class": "L2Normalize"}]}},
         "loss": {"class": "TripletMarginLoss", "params": {"margin": 0.2}},
         "optimizer": {"class": "Adam", "params": {"lr": 0.01}},
         "seed": %d, "threads": 1}
        """.formatted(dim, emb, seed);
    return TrainerConfigs.fromJson(s);
  }

  /**
   * An environment on the test MiniCluster: checkpoints every {@code checkpointMs} into {@code checkpointDir}
   * (filesystem storage: real checkpoints), fixed-delay restarts, generic (Kryo) types disabled.
   */
  static StreamExecutionEnvironment env(Path checkpointDir, long checkpointMs, int restarts) {
    Configuration conf = new Configuration();
    conf.set(PipelineOptions.GENERIC_TYPES, false);
    if (checkpointDir != null) {
      conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
      conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpointDir.toUri().toString());
    }
    if (restarts > 0) {
      conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
      conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, restarts);
      conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(50));
    } else {
      conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
    }
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.setParallelism(1);
    if (checkpointMs > 0) {
      env.enableCheckpointing(checkpointMs);
    }
    return env;
  }

  // ---------------------------------------------------------------- collecting sink

  private static final Map<String, List<Object>> COLLECTED = new ConcurrentHashMap<>();

  /** A sink that appends every element to a JVM-wide list named {@code key} (cleared by {@link #collected}). */
  static <T> Sink<T> collect(String key) {
    COLLECTED.put(key, java.util.Collections.synchronizedList(new ArrayList<>()));
    return new CollectSink<>(key);
  }

  @SuppressWarnings("unchecked")
  static <T> List<T> collected(String key) {
    List<Object> l = COLLECTED.get(key);
    synchronized (l) {
      return (List<T>) new ArrayList<>(l);
    }
  }

  private static final class CollectSink<T> implements Sink<T> {
    private static final long serialVersionUID = 1L;
    private final String key;

    CollectSink(String key) {
      this.key = key;
    }

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) {
      return new SinkWriter<>() {
        @Override
        public void write(T element, Context ctx) {
          COLLECTED.get(key).add(element);
        }

        @Override
        public void flush(boolean endOfInput) {}

        @Override
        public void close() {}
      };
    }
  }

  // ---------------------------------------------------------------- failure injection

  /**
   * Throws once for each chosen record id: the first time the id passes, a marker file is created and the task fails;
   * after the restart (the id is replayed) the marker exists and the record passes.
   */
  static final class FailOnce implements MapFunction<LabeledVector, LabeledVector> {
    private static final long serialVersionUID = 1L;
    private final String markerDir;
    private final Set<Long> ids;

    FailOnce(Path markerDir, Set<Long> ids) {
      this.markerDir = markerDir.toString();
      this.ids = Set.copyOf(ids);
    }

    @Override
    public LabeledVector map(LabeledVector v) throws IOException {
      if (ids.contains(v.id)) {
        Path marker = Path.of(markerDir, "failed-" + v.id);
        if (!Files.exists(marker)) {
          Files.createFile(marker);
          throw new InjectedFailure("injected failure at record " + v.id);
        }
      }
      return v;
    }
  }

  static final class InjectedFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InjectedFailure(String m) {
      super(m);
    }
  }

  static long markers(Path dir) {
    try (var s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().startsWith("failed-")).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static JsonNode readJsonString(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static JsonNode readJson(Path p) {
    try {
      return JSON.readTree(p.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
