package io.thetatree.spark;

import io.thetatree.ThetaTreeException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import scala.Option;

/** Reading and writing model bytes through Hadoop's FileSystem API (file:, hdfs:, s3a:, ...). */
final class ModelFiles {
    private ModelFiles() {}

    /** The largest file a Java array holds; the library's own cap (2 GiB) is checked at load. */
    static final long MAX_BYTES = Integer.MAX_VALUE - 8;

    private static final byte[] TTM_MAGIC = "TTMODEL\0".getBytes(StandardCharsets.US_ASCII);

    /**
     * The Hadoop configuration of the active (else default) SparkSession, so that credentials and
     * file system settings given as {@code spark.hadoop.*} apply; a fresh one without a session.
     */
    static Configuration defaultConfiguration() {
        Option<SparkSession> s = SparkSession.getActiveSession();
        if (s.isEmpty()) {
            s = SparkSession.getDefaultSession();
        }
        return s.isDefined() ? s.get().sparkContext().hadoopConfiguration() : new Configuration();
    }

    /**
     * All bytes of the file at {@code location}. Fails with {@link ThetaTreeException#IO} naming
     * the location (missing file, directory, unknown scheme, read error) or {@link
     * ThetaTreeException#LIMIT} for a file too large to hold, before allocating anything.
     */
    static byte[] read(String location, Configuration conf) {
        Path path = toPath(location);
        try {
            FileSystem fs = path.getFileSystem(conf);
            FileStatus st = fs.getFileStatus(path);
            if (st.isDirectory()) {
                throw new ThetaTreeException(ThetaTreeException.IO, location + " is a directory, "
                        + "not a .ttm file" + (looksLikeSavedStage(fs, path)
                                ? " (it holds a saved Spark ML stage: use ThetaTreeModel.load)"
                                : ""));
            }
            long len = st.getLen();
            if (len > MAX_BYTES) {
                throw new ThetaTreeException(ThetaTreeException.LIMIT, location + " is " + len
                        + " bytes; a model file is at most " + MAX_BYTES + " bytes");
            }
            byte[] b = new byte[(int) len];
            try (FSDataInputStream in = fs.open(path)) {
                in.readFully(0, b);
            } catch (EOFException e) {
                throw io(location + " is shorter than the " + len + " bytes its file system "
                        + "reported (was it replaced while being read?)", e);
            }
            return b;
        } catch (IOException e) {
            throw io(location + ": " + e, e);
        }
    }

    /** Writes {@code bytes} to a new file at {@code path} (fails if it exists). */
    static void write(Path path, byte[] bytes, Configuration conf) throws IOException {
        FileSystem fs = path.getFileSystem(conf);
        try (FSDataOutputStream out = fs.create(path, false)) {
            out.write(bytes);
        }
    }

    /** Whether the file at {@code location} is a file that starts with the .ttm magic. */
    static boolean isTtmFile(String location, Configuration conf) {
        Path path = toPath(location);
        try {
            FileSystem fs = path.getFileSystem(conf);
            FileStatus st = fs.getFileStatus(path);
            if (!st.isFile() || st.getLen() < TTM_MAGIC.length) {
                return false;
            }
            byte[] head = new byte[TTM_MAGIC.length];
            try (FSDataInputStream in = fs.open(path)) {
                in.readFully(0, head);
            }
            return Arrays.equals(head, TTM_MAGIC);
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean looksLikeSavedStage(FileSystem fs, Path dir) {
        try {
            return fs.exists(new Path(dir, "metadata"));
        } catch (IOException e) {
            return false;
        }
    }

    private static Path toPath(String location) {
        if (location == null) {
            throw new NullPointerException("path");
        }
        if (location.isEmpty()) {
            throw new IllegalArgumentException("path is empty");
        }
        try {
            return new Path(location);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a valid path or URI: '" + location + "': "
                    + e.getMessage(), e);
        }
    }

    private static ThetaTreeException io(String message, IOException cause) {
        ThetaTreeException e = new ThetaTreeException(ThetaTreeException.IO, message);
        e.initCause(cause);
        return e;
    }
}
