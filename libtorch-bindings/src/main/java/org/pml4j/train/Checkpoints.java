package org.pml4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Trainer snapshots as files, written atomically: the bytes go to a temporary file in the same directory, which is
 * fsynced and then renamed over the target (and the directory fsynced), so a reader sees the old file or the new one,
 * never a torn one, even across a crash.
 */
public final class Checkpoints {
  private Checkpoints() {}

  /** Writes {@code trainer.snapshot()} to {@code file} atomically. */
  public static void save(CheckpointableTrainer trainer, Path file) {
    write(file, trainer.snapshot());
  }

  /**
   * Rebuilds and restores the trainer saved in {@code file} (see {@link Trainers#fromSnapshot}).
   *
   * @throws UncheckedIOException when the file cannot be read
   * @throws IllegalArgumentException when it is not an intact snapshot
   */
  public static BaseTrainer load(Path file) {
    return Trainers.fromSnapshot(read(file));
  }

  /**
   * Rebuilds the trainer a checkpoint file holds on {@code device} (null: cpu); see {@link
   * Trainers#fromSnapshot(byte[], String)}.
   */
  public static BaseTrainer load(Path file, String device) {
    return Trainers.fromSnapshot(read(file), device);
  }

  /** Restores {@code trainer} from {@code file}. */
  public static void restore(CheckpointableTrainer trainer, Path file) {
    trainer.restore(read(file));
  }

  /** Reads a checkpoint file's bytes. */
  public static byte[] read(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new UncheckedIOException("no checkpoint at " + file, e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint " + file + ": " + e.getMessage(), e);
    }
  }

  /** The target's permissions when it exists, else rw-r--r-- (a temporary file starts as rw-------). */
  private static void setPermissions(Path tmp, Path target) {
    try {
      Set<PosixFilePermission> perms = Files.exists(target) ? Files.getPosixFilePermissions(target)
          : PosixFilePermissions.fromString("rw-r--r--");
      Files.setPosixFilePermissions(tmp, perms);
    } catch (UnsupportedOperationException | IOException ignored) {
      // not a POSIX file system: keep the default
    }
  }

  /** Writes bytes to {@code file} atomically (temporary file, fsync, rename, directory fsync). */
  public static void write(Path file, byte[] bytes) {
    Path target = file.toAbsolutePath();
    Path dir = target.getParent();
    Path tmp = null;
    try {
      Files.createDirectories(dir);
      tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
      setPermissions(tmp, target);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      tmp = null;
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
      } catch (IOException ignored) {
        // some file systems cannot sync a directory; the rename is still atomic
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
  }
}
