package org.pml4j.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job graph of the built topology, as the Web UI shows it: its vertices (operator chains) and their names. */
class StreamTopologyTest {
  @TempDir
  Path tmp;

  private List<String> vertexNames(String... args) {
    List<String> all = new ArrayList<>(List.of("--output-dir", tmp.toString()));
    all.addAll(List.of(args));
    StreamJobConfig c = StreamJobConfig.fromArgs(all.toArray(String[]::new));
    StreamExecutionEnvironment env = JobEnvironment.environment(c);
    StreamingJob.build(env, c, TrainerFactory.DEFAULT);
    JobGraph g = env.getStreamGraph().getJobGraph();
    List<String> names = new ArrayList<>();
    for (JobVertex v : g.getVertices()) {
      names.add(v.getName());
    }
    return names;
  }

  @Test
  void theTrainerIsAVertexOfItsOwnNamedPml4jTrainer() {
    for (String evaluate : new String[] {"latest", "none"}) {
      List<String> names = vertexNames("--evaluate", evaluate);
      System.out.println("job graph vertices (evaluate=" + evaluate + "): " + names);
      assertTrue(names.contains("pml4j-trainer"), "a vertex named pml4j-trainer: " + names);
      assertEquals(1, names.stream().filter(n -> n.contains("pml4j-trainer")).count(),
          "no chain lists the trainer among other operators: " + names);
      assertTrue(names.stream().anyMatch(n -> n.startsWith("Source: train-source -> validate-train")),
          "the source and its validation stay chained: " + names);
      assertEquals(evaluate.equals("latest"), names.stream().anyMatch(n -> n.startsWith("pml4j-evaluator")),
          names.toString());
    }
  }
}
