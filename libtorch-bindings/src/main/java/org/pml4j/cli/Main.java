package org.pml4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.pml4j.conformance.ConformanceReport;
import org.pml4j.spec.Registry;
import org.pml4j.torch.Torch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The {@code pml4j} command line. */
@Command(name = "pml4j", mixinStandardHelpOptions = true, version = "pml4j 0.1.0",
    description = "Metric learning for JVM pipelines: pytorch-metric-learning on LibTorch.",
    subcommands = {Main.Conformance.class, Main.Components.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }

  /** Entry point. */
  public static void main(String[] args) {
    int code = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    System.exit(code);
  }

  /** {@code pml4j conformance DIR...}. */
  @Command(name = "conformance", mixinStandardHelpOptions = true,
      description = {"Runs PML's golden cases (files or directories of case JSON, with manifest.json) through the "
          + "registry in float64 and float32, checks that the manifest's skipped_variants are rejected, and prints a "
          + "table by kind and class ending with 'N passed, M failed, K skipped'.",
          "Exit status 1 when any case fails."})
  static final class Conformance implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "DIR", description = "case directories or files")
    List<Path> dirs;

    @Option(names = {"-v", "--verbose"}, description = "also list skipped cases")
    boolean verbose;

    @Option(names = "--threads", description = "ATen and OpenBLAS threads (default: ${DEFAULT-VALUE})")
    int threads = 1;

    @Override
    public Integer call() throws Exception {
      Torch.setNumThreads(threads);
      ConformanceReport report = new ConformanceReport().run(dirs);
      report.print(System.out, verbose);
      return report.anyFailed() ? 1 : 0;
    }
  }

  /** {@code pml4j components}. */
  @Command(name = "components", mixinStandardHelpOptions = true,
      description = "Lists every component the registry can build, by package.")
  static final class Components implements Callable<Integer> {
    @Override
    public Integer call() {
      Registry.knownClassesByPackage().forEach((pkg, names) -> System.out.println(pkg + ": " + String.join(", ", names)));
      return 0;
    }
  }
}
