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
    subcommands = {TrainCommand.class, ExportCommand.class, EvalCommand.class, BenchCommand.class, StreamCommand.class,
        Main.Conformance.class, Main.Components.class, SoakCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @Override
  public void run() {
    CommandLine.usage(this, System.out);
  }

  /** Entry point. */
  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /**
   * The configured command line (for tests: {@code commandLine().setOut(...).execute(args)}). Errors in the user's
   * input (bad specs, missing or corrupt files) print one line {@code pml4j <command>: message} and exit with 2;
   * anything else prints its stack trace and exits with 1.
   */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException
          || e instanceof java.io.IOException) {
        cmd.getErr().println(cmd.getCommandName().equals("pml4j") ? "pml4j: " + e.getMessage()
            : "pml4j " + cmd.getCommandName() + ": " + e.getMessage());
        cmd.getErr().flush();
        return 2;
      }
      throw e;
    });
    return cl;
  }

  /** {@code pml4j conformance DIR...}. */
  @Command(name = "conformance", mixinStandardHelpOptions = true,
      description = {"Runs PML's golden cases (files or directories of case JSON, with manifest.json) through the "
          + "registry in float64 and float32, checks that the manifest's skipped_variants are rejected, and prints a "
          + "table by kind and class ending with 'N passed, M failed, K skipped'.",
          "Exit status 1 when any case fails."})
  static final class Conformance implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "DIR",
        description = "case directories or files (default: the copy of PML's public cases in the repository, "
            + "$PML4J_HOME/conformance/src/test/resources/conformance/cases)")
    List<Path> dirs;

    @Option(names = {"-v", "--verbose"}, description = "also list skipped cases")
    boolean verbose;

    @Option(names = "--threads", description = "ATen and OpenBLAS threads (default: ${DEFAULT-VALUE})")
    int threads = 1;

    @Override
    public Integer call() throws Exception {
      Torch.setNumThreads(threads);
      if (dirs == null || dirs.isEmpty()) {
        String home = System.getenv("PML4J_HOME");
        if (home == null) {
          throw new CommandLine.ParameterException(new CommandLine(this),
              "no case directory given and PML4J_HOME is not set (bin/pml4j sets it)");
        }
        dirs = List.of(Path.of(home, "conformance", "src", "test", "resources", "conformance", "cases"));
      }
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
      Registry.knownClassesByPackage()
          .forEach((pkg, names) -> System.out.println(pkg + ": " + String.join(", ", names)));
      return 0;
    }
  }
}
