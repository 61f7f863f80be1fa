package org.pml4j.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link ModelStore} in a local directory, through java.nio. Each file is written to a hidden temporary file in the
 * same directory, {@code fsync}ed, renamed atomically to its final name ({@code ATOMIC_MOVE}; a file system that
 * cannot is an error), and the directory is {@code fsync}ed. {@link #lock()} takes a file lock on
 * {@code .publisher.lock}, so publishers in different processes take turns.
 */
public final class LocalModelStore implements ModelStore {
  /** The lock file of {@link #lock()}. */
  public static final String LOCK = ".publisher.lock";

  private final Path dir;

  /** A store in {@code dir} (made absolute; nothing is created until {@link #createDirectory()}). */
  public LocalModelStore(Path dir) {
    if (dir == null) {
      throw new IllegalArgumentException("dir must not be null");
    }
    this.dir = dir.toAbsolutePath();
  }

  /** The directory. */
  public Path directory() {
    return dir;
  }

  @Override
  public String location() {
    return dir.toString();
  }

  @Override
  public String location(String name) {
    return dir.resolve(name).toString();
  }

  @Override
  public void createDirectory() throws IOException {
    Files.createDirectories(dir);
  }

  @Override
  public byte[] read(String name) throws IOException {
    return Files.readAllBytes(dir.resolve(name));
  }

  @Override
  public void writeAtomically(String name, byte[] bytes) throws IOException {
    Path target = dir.resolve(name);
    Path tmp = dir.resolve(ModelStore.temporaryName(name));
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the file system of " + dir + " cannot rename atomically", e);
      }
      syncDirectory();
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  @Override
  public List<String> list() throws IOException {
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path p : files) {
        names.add(p.getFileName().toString());
      }
    } catch (NoSuchFileException e) {
      // no directory: no files
    }
    return names;
  }

  @Override
  public void delete(String name) throws IOException {
    Files.deleteIfExists(dir.resolve(name));
  }

  @Override
  public Lock lock() throws IOException {
    FileChannel ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock l;
    try {
      l = ch.lock();
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
    return () -> {
      try (ch) {
        l.release();
      }
    };
  }

  private void syncDirectory() {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // Some platforms cannot open or sync a directory; the renames are still atomic there.
    }
  }

  @Override
  public String toString() {
    return "LocalModelStore[" + dir + "]";
  }
}
