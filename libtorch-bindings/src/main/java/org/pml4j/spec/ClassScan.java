package org.pml4j.spec;

import java.io.IOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Enumeration;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/** Lists the top-level class names of a package from directories and jars on the class path. */
final class ClassScan {
  private ClassScan() {}

  static TreeSet<String> classNames(String pkg) {
    TreeSet<String> out = new TreeSet<>();
    String path = pkg.replace('.', '/');
    try {
      Enumeration<URL> urls = Registry.class.getClassLoader().getResources(path);
      while (urls.hasMoreElements()) {
        URL url = urls.nextElement();
        if ("file".equals(url.getProtocol())) {
          Path dir = Paths.get(url.toURI());
          try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).filter(ClassScan::isTopLevelClass)
                .forEach(n -> out.add(n.substring(0, n.length() - 6)));
          }
        } else if ("jar".equals(url.getProtocol())) {
          JarURLConnection conn = (JarURLConnection) url.openConnection();
          try (JarFile jar = conn.getJarFile()) {
            Enumeration<JarEntry> en = jar.entries();
            while (en.hasMoreElements()) {
              String n = en.nextElement().getName();
              if (n.startsWith(path + "/") && n.indexOf('/', path.length() + 1) < 0) {
                String simple = n.substring(path.length() + 1);
                if (isTopLevelClass(simple)) {
                  out.add(simple.substring(0, simple.length() - 6));
                }
              }
            }
          }
        }
      }
    } catch (IOException | URISyntaxException e) {
      // best effort: used only for listings in error messages
    }
    return out;
  }

  private static boolean isTopLevelClass(String n) {
    return n.endsWith(".class") && !n.contains("$") && !n.equals("package-info.class");
  }
}
