package org.pml4j.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of ARCHITECTURE.md, enforced on the main classes of every module (this module depends on the CLI, the
 * top of the module graph, so all of them are on its class path): no package cycle among the {@code org.pml4j}
 * packages, no edge from the core library up to the integrations (Flink, ONNX, CLI, benchmarks), nothing but the CLI
 * depending on the golden-case runner, and no two main classes with one simple name.
 */
class ArchitectureTest {
  /** The packages of the core library ({@code pml4j-libtorch}): Flink-, ONNX- and CLI-free. */
  static final String[] CORE = {"org.pml4j.torch..", "org.pml4j.tuples..", "org.pml4j.validation..",
      "org.pml4j.distances..", "org.pml4j.reducers..", "org.pml4j.regularizers..", "org.pml4j.losses..",
      "org.pml4j.miners..", "org.pml4j.samplers..", "org.pml4j.accuracy..", "org.pml4j.spec..", "org.pml4j.nn..",
      "org.pml4j.train..", "org.pml4j.data..", "org.pml4j.distributed.."};


  static JavaClasses main;

  @BeforeAll
  static void importMainClasses() {
    main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("org.pml4j");
    // Guard against a vacuous pass: every module's classes must be here.
    for (String probe : List.of("org.pml4j.torch.Scope", "org.pml4j.losses.TripletMarginLoss",
        "org.pml4j.conformance.CaseRunner", "org.pml4j.onnx.OnnxExporter", "org.pml4j.flink.StreamingJob",
        "org.pml4j.bench.Bench", "org.pml4j.cli.Main")) {
      assertTrue(main.contain(probe), probe + " is not on the architecture test's class path");
    }
  }

  static ArchRule noPackageCycles(String packagesOfInterest) {
    return slices().matching(packagesOfInterest).should().beFreeOfCycles();
  }

  @Test
  void noCycleAmongTheOrgPml4jPackages() {
    noPackageCycles("org.pml4j.(*)..").check(main);
  }

  @Test
  void theCoreLibraryDependsOnNoIntegration() {
    noClasses().that().resideInAnyPackage(CORE).should().dependOnClassesThat()
        .resideInAnyPackage("org.pml4j.flink..", "org.pml4j.onnx..", "org.pml4j.cli..", "org.pml4j.bench..",
            "org.pml4j.conformance..")
        .check(main);
  }

  @Test
  void onnxExportDependsOnNeitherFlinkNorTheTools() {
    noClasses().that().resideInAPackage("org.pml4j.onnx..").should().dependOnClassesThat()
        .resideInAnyPackage("org.pml4j.flink..", "org.pml4j.cli..", "org.pml4j.bench..", "org.pml4j.conformance..")
        .check(main);
  }

  @Test
  void flinkDependsOnNoTool() {
    noClasses().that().resideInAPackage("org.pml4j.flink..").should().dependOnClassesThat()
        .resideInAnyPackage("org.pml4j.cli..", "org.pml4j.bench..", "org.pml4j.conformance..")
        .check(main);
  }

  @Test
  void onlyTheCliUsesTheGoldenCaseRunner() {
    noClasses().that().resideOutsideOfPackages("org.pml4j.conformance..", "org.pml4j.cli..").should()
        .dependOnClassesThat().resideInAPackage("org.pml4j.conformance..")
        .check(main);
  }

  @Test
  void noTwoMainClassesShareASimpleName() {
    Map<String, List<String>> byName = main.stream()
        .filter(c -> c.isTopLevelClass() && !c.getSimpleName().equals("package-info"))
        .collect(Collectors.groupingBy(JavaClass::getSimpleName, TreeMap::new,
            Collectors.mapping(JavaClass::getName, Collectors.toList())));
    Map<String, List<String>> shared = new TreeMap<>();
    byName.forEach((name, classes) -> {
      if (classes.size() > 1) {
        shared.put(name, classes);
      }
    });
    assertEquals(Map.of(), shared, "main classes sharing a simple name");
  }

  @Test
  void theCycleRuleReportsACycle() {
    // The fixture packages org.pml4j.archfixture.a and .b (test classes of this module) depend on each other.
    JavaClasses fixture = new ClassFileImporter().importPackages("org.pml4j.archfixture");
    AssertionError e = assertThrows(AssertionError.class,
        () -> noPackageCycles("org.pml4j.archfixture.(*)..").check(fixture));
    assertTrue(e.getMessage().contains("Cycle detected: Slice a -> "), e.getMessage());
  }
}
