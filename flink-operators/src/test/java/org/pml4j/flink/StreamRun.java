package org.pml4j.flink;

/**
 * Runs {@link StreamingJob} with the test trainer ({@link SimpleTrainer}) until org.pml4j.train.Trainers exists:
 * {@code java -cp <test class path> org.pml4j.flink.StreamRun --dataset fashion-mnist ...}.
 */
public final class StreamRun {
  private StreamRun() {}

  public static void main(String[] args) throws Exception {
    StreamingJob.run(StreamJobConfig.fromArgs(args), SimpleTrainer.factory(), System.out);
  }
}
