package io.thetatree.spark;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PositionedReadable;
import org.apache.hadoop.fs.Seekable;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * A read-only Hadoop file system over an in-memory map ({@code ttmem://host/path}), standing in for
 * hdfs: / s3a: in tests: a model read through it went through Hadoop's FileSystem API, nothing
 * else.
 */
public final class MemoryFileSystem extends FileSystem {
    static final String SCHEME = "ttmem";
    private static final Map<String, byte[]> FILES = new ConcurrentHashMap<>();
    private static final Set<String> DIRS = ConcurrentHashMap.newKeySet();
    private URI uri;

    static void put(String path, byte[] bytes) {
        FILES.put(path, bytes.clone());
    }

    static void mkdir(String path) {
        DIRS.add(path);
    }

    @Override
    public void initialize(URI name, Configuration conf) throws IOException {
        super.initialize(name, conf);
        uri = URI.create(SCHEME + "://" + (name.getAuthority() == null ? "" : name.getAuthority()));
    }

    @Override
    public String getScheme() {
        return SCHEME;
    }

    @Override
    public URI getUri() {
        return uri;
    }

    private static String key(Path p) {
        return p.toUri().getPath();
    }

    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
        byte[] b = FILES.get(key(f));
        if (b == null) {
            throw new FileNotFoundException(f.toString());
        }
        return new FSDataInputStream(new Bytes(b));
    }

    @Override
    public FileStatus getFileStatus(Path f) throws IOException {
        Path q = makeQualified(f);
        byte[] b = FILES.get(key(f));
        if (b != null) {
            return new FileStatus(b.length, false, 1, 4096, 0, q);
        }
        if (DIRS.contains(key(f))) {
            return new FileStatus(0, true, 1, 4096, 0, q);
        }
        throw new FileNotFoundException(f.toString());
    }

    @Override
    public FileStatus[] listStatus(Path f) throws IOException {
        return new FileStatus[] {getFileStatus(f)};
    }

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite,
            int bufferSize, short replication, long blockSize, Progressable progress)
            throws IOException {
        throw new IOException("read-only");
    }

    @Override
    public FSDataOutputStream append(Path f, int bufferSize, Progressable progress)
            throws IOException {
        throw new IOException("read-only");
    }

    @Override
    public boolean rename(Path src, Path dst) throws IOException {
        throw new IOException("read-only");
    }

    @Override
    public boolean delete(Path f, boolean recursive) throws IOException {
        throw new IOException("read-only");
    }

    @Override
    public void setWorkingDirectory(Path dir) {}

    @Override
    public Path getWorkingDirectory() {
        return new Path(uri.toString() + "/");
    }

    @Override
    public boolean mkdirs(Path f, FsPermission permission) throws IOException {
        throw new IOException("read-only");
    }

    /** A byte array with the seek and positioned-read interfaces FSDataInputStream needs. */
    private static final class Bytes extends ByteArrayInputStream
            implements Seekable, PositionedReadable {
        Bytes(byte[] b) {
            super(b);
        }

        @Override
        public synchronized void seek(long p) throws IOException {
            if (p < 0 || p > count) {
                throw new EOFException("seek to " + p);
            }
            pos = (int) p;
        }

        @Override
        public synchronized long getPos() {
            return pos;
        }

        @Override
        public boolean seekToNewSource(long targetPos) {
            return false;
        }

        @Override
        public int read(long position, byte[] buffer, int offset, int length) {
            if (position >= count) {
                return -1;
            }
            int n = (int) Math.min(length, count - position);
            System.arraycopy(buf, (int) position, buffer, offset, n);
            return n;
        }

        @Override
        public void readFully(long position, byte[] buffer, int offset, int length)
                throws IOException {
            if (position + length > count) {
                throw new EOFException("read past the end");
            }
            System.arraycopy(buf, (int) position, buffer, offset, length);
        }

        @Override
        public void readFully(long position, byte[] buffer) throws IOException {
            readFully(position, buffer, 0, buffer.length);
        }
    }
}
