package org.pml4j.flink;

/**
 * Runs {@link StreamingJob} with the real trainer ({@link TrainerFactory#DEFAULT}) from the test class path:
 * {@code java -cp <test class path> org.pml4j.flink.StreamRun --dataset fashion-mnist ...} (the same as
 * {@code bin/pml4j stream}, without the CLI's plot).
 */
public final class StreamRun {
  private StreamRun() {}

  public static void main(String[] args) throws Exception {
    StreamingJob.run(StreamJobConfig.fromArgs(args), TrainerFactory.DEFAULT, System.out);
  }
}
