package io.thetatree;

import java.lang.ref.Cleaner;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loaded, validated theta-sketch decision tree ({@code .ttm} file), backed by a native {@code
 * tt_model}.
 *
 * <p><b>Input.</b> Rows are row-major, {@link #nFeatures()} cells per row, in feature-index order
 * (see {@link #featureNames()}). {@code byte} cells: 0 absent, 1 present, -1 missing. {@code
 * double} cells: 0.0 (or -0.0) absent, 1.0 present, {@code NaN} missing. A missing value goes to
 * the child with more training samples. Any other value fails with {@link ThetaTreeException}
 * code {@link ThetaTreeException#INPUT_VALUE} naming its row and column; in the {@code ...Into}
 * methods the outputs of earlier rows may already have been written then.
 *
 * <p><b>Output.</b> Labels are 0 (negative class) or 1 (positive class), see {@link
 * #classLabels()}. Probabilities are {@code 2 * nRows} doubles, row-major: {@code out[2r]} =
 * P(class 0), {@code out[2r+1]} = P(class 1).
 *
 * <p><b>Explanations.</b> Nodes are numbered in the reference's pre-order (root 0, then the left
 * subtree, then the right subtree). {@link #predictLeaf(byte[], int)} gives each row's leaf,
 * {@link #predictContrib(byte[], int)} the per-feature changes in P(class 1) along its path
 * ({@code nFeatures() + 1} per row, the root's P(class 1) last), {@link #decisionPath(byte[])}
 * one row's nodes from the root to the leaf and {@link #node(int)} one node. They take the same
 * inputs, and fail in the same ways, as the predict calls.
 *
 * <p><b>Threads.</b> A model is immutable: any number of threads may call any method at once
 * without locking. {@link #close()} may also be called at any time from any thread: it marks the
 * model closed (new calls throw {@link IllegalStateException}), waits for the calls in flight to
 * finish, then frees the native model. It is idempotent. A model that is never closed is freed
 * when it becomes unreachable (via a {@link Cleaner}), but closing explicitly is recommended.
 *
 * <p><b>Direct buffers.</b> The {@code Buffer} overloads pass the buffers' memory to the library
 * without copying. They read from each buffer's position up to its limit and do <em>not</em>
 * change positions. Heap buffers are rejected with {@link IllegalArgumentException} (use the array
 * overloads); so are read-only output buffers and buffers whose byte order is not little-endian
 * where multi-byte elements are involved. An address that is not aligned to the element size
 * fails in the library with {@link ThetaTreeException#ALIGNMENT}.
 */
public final class Model implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Handle handle;
    private final Cleaner.Cleanable cleanable;
    private final int nFeatures;
    private final int nClasses;
    private final int nNodes;
    private final int nLeaves;
    private final int maxDepth;
    // Immutable per model; fetched on first use.
    private volatile List<String> featureNames;
    private volatile List<String> classLabels;
    private volatile byte[] digest;

    private Model(long ptr) {
        Handle h = new Handle(ptr);
        try {
            this.nFeatures = toInt(Native.nFeatures(ptr), "n_features");
            this.nClasses = toInt(Native.nClasses(ptr), "n_classes");
            this.nNodes = toInt(Native.nNodes(ptr), "n_nodes");
            this.nLeaves = toInt(Native.nLeaves(ptr), "n_leaves");
            this.maxDepth = toInt(Native.maxDepth(ptr), "max_depth");
        } catch (RuntimeException | Error e) {
            h.close();
            throw e;
        }
        this.handle = h;
        this.cleanable = CLEANER.register(this, h);
    }

    private static int toInt(long v, String what) {
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new ThetaTreeException(ThetaTreeException.LIMIT, what + " = " + v
                    + " does not fit a Java int");
        }
        return (int) v;
    }

    // ------------------------------------------------------------------ loading

    /** Loads and validates a model file, memory-mapped read-only. */
    public static Model load(Path path) {
        return load(path, new LoadOption[0]);
    }

    /** Loads and validates a model file. */
    public static Model load(Path path, LoadOption... options) {
        return new Model(Native.load(pathBytes(path), flags(options), null));
    }

    /**
     * Loads a model file after verifying its HMAC-SHA256 signature with {@code key}. Fails with
     * {@link ThetaTreeException#UNSIGNED}, {@link ThetaTreeException#KEY_MISMATCH}, {@link
     * ThetaTreeException#BAD_SIGNATURE} or, for an empty key, {@link ThetaTreeException#NO_KEY}.
     */
    public static Model loadVerified(Path path, byte[] key, LoadOption... options) {
        Objects.requireNonNull(key, "key");
        return new Model(Native.load(pathBytes(path), flags(options), key));
    }

    /** Loads and validates a model from memory; the bytes are copied. */
    public static Model load(byte[] data) {
        Objects.requireNonNull(data, "data");
        return load(data, 0, data.length);
    }

    /** Loads and validates a model from {@code data[offset, offset+length)}; the bytes are copied. */
    public static Model load(byte[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, Objects.requireNonNull(data, "data").length);
        Native.init();
        return new Model(Native.loadBytes(data, offset, length, Native.TT_LOAD_DEFAULT, null));
    }

    /** {@link #load(byte[])} with signature verification, as {@link #loadVerified(Path, byte[], LoadOption...)}. */
    public static Model loadVerified(byte[] data, byte[] key) {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(key, "key");
        Native.init();
        return new Model(Native.loadBytes(data, 0, data.length, Native.TT_LOAD_DEFAULT, key));
    }

    private static byte[] pathBytes(Path path) {
        Objects.requireNonNull(path, "path");
        Native.init();
        byte[] s = path.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8);
        byte[] z = Arrays.copyOf(s, s.length + 1); // NUL-terminated
        for (int i = 0; i < s.length; i++) {
            if (s[i] == 0) {
                throw new IllegalArgumentException("path contains a NUL character");
            }
        }
        return z;
    }

    private static int flags(LoadOption[] options) {
        int f = Native.TT_LOAD_DEFAULT;
        for (LoadOption o : Objects.requireNonNull(options, "options")) {
            if (Objects.requireNonNull(o, "option") == LoadOption.COPY) {
                f |= Native.TT_LOAD_COPY;
            }
        }
        return f;
    }

    // ------------------------------------------------------------------ library

    /** Version of the native library, e.g. {@code "0.1.0"}. */
    public static String libraryVersion() {
        Native.init();
        return new String(Native.libraryVersion(), StandardCharsets.UTF_8);
    }

    /** {@code tt_abi_version()} of the native library. */
    public static int abiVersion() {
        Native.init();
        return Native.abiVersion();
    }

    // ------------------------------------------------------------------ metadata

    /** Number of input features (cells per row). */
    public int nFeatures() {
        handle.ensureOpen();
        return nFeatures;
    }

    /** Number of classes (always 2). */
    public int nClasses() {
        handle.ensureOpen();
        return nClasses;
    }

    /** Number of tree nodes. */
    public int nNodes() {
        handle.ensureOpen();
        return nNodes;
    }

    /** Number of leaves. */
    public int nLeaves() {
        handle.ensureOpen();
        return nLeaves;
    }

    /** Depth of the tree (edges from the root to the deepest leaf). */
    public int maxDepth() {
        handle.ensureOpen();
        return maxDepth;
    }

    /**
     * Name of feature (input column) {@code index}; {@link ThetaTreeException#NOT_FOUND} if out
     * of range.
     */
    public String featureName(int index) {
        if (index < 0) {
            handle.ensureOpen();
            throw new ThetaTreeException(ThetaTreeException.NOT_FOUND,
                    "feature index " + index + " is negative");
        }
        if (index >= nFeatures) {
            long h = handle.acquire();
            try {
                Native.featureName(h, index); // the library reports NOT_FOUND
            } finally {
                handle.release();
            }
            throw new AssertionError("tt_feature_name accepted index " + index);
        }
        return featureNames().get(index);
    }

    /** All feature names, in column order (an unmodifiable list). */
    public List<String> featureNames() {
        List<String> names = featureNames;
        if (names == null) {
            String[] a = new String[nFeatures];
            long h = handle.acquire();
            try {
                for (int i = 0; i < a.length; i++) {
                    a[i] = utf8(Native.featureName(h, i));
                }
            } finally {
                handle.release();
            }
            names = Collections.unmodifiableList(Arrays.asList(a));
            featureNames = names;
        } else {
            handle.ensureOpen();
        }
        return names;
    }

    /** Column index of the feature called {@code name} (exact match), or empty. */
    public OptionalInt featureIndex(String name) {
        Objects.requireNonNull(name, "name");
        if (name.indexOf('\0') >= 0) {
            handle.ensureOpen();
            return OptionalInt.empty(); // no feature name contains NUL
        }
        byte[] s = name.getBytes(StandardCharsets.UTF_8);
        byte[] z = Arrays.copyOf(s, s.length + 1);
        long idx;
        long h = handle.acquire();
        try {
            idx = Native.featureIndex(h, z);
        } finally {
            handle.release();
        }
        return idx < 0 ? OptionalInt.empty() : OptionalInt.of((int) idx);
    }

    /** Column index of the feature called {@code name}; {@link ThetaTreeException#NOT_FOUND} if none. */
    public int requireFeatureIndex(String name) {
        OptionalInt i = featureIndex(name);
        if (i.isEmpty()) {
            throw new ThetaTreeException(ThetaTreeException.NOT_FOUND,
                    "no feature named '" + name + "'");
        }
        return i.getAsInt();
    }

    /** Class labels: index 0 = negative class, 1 = positive class (an unmodifiable list). */
    public List<String> classLabels() {
        List<String> labels = classLabels;
        if (labels == null) {
            String[] a = new String[nClasses];
            long h = handle.acquire();
            try {
                for (int i = 0; i < a.length; i++) {
                    a[i] = utf8(Native.classLabel(h, i));
                }
            } finally {
                handle.release();
            }
            labels = Collections.unmodifiableList(Arrays.asList(a));
            classLabels = labels;
        } else {
            handle.ensureOpen();
        }
        return labels;
    }

    /** The user-supplied model version string (may be empty). */
    public String version() {
        long h = handle.acquire();
        try {
            return utf8(Native.modelVersion(h));
        } finally {
            handle.release();
        }
    }

    /** The model's metadata (hyperparameters, source digest, compiler version, ...) as JSON. */
    public String metadataJson() {
        long h = handle.acquire();
        try {
            return utf8(Native.metadataJson(h));
        } finally {
            handle.release();
        }
    }

    /** The CRC-32 stored in (and verified against) the model file, as an unsigned value. */
    public long crc32() {
        long h = handle.acquire();
        try {
            return Native.crc32(h);
        } finally {
            handle.release();
        }
    }

    /** SHA-256 of the model bytes without signature trailer (32 bytes; a fresh copy). */
    public byte[] digest() {
        byte[] d = digest;
        if (d == null) {
            long h = handle.acquire();
            try {
                d = Native.digest(h);
            } finally {
                handle.release();
            }
            digest = d;
        } else {
            handle.ensureOpen();
        }
        return d.clone();
    }

    /**
     * Whether the file carries a signature trailer. Only {@code loadVerified} checks it; a plain
     * load of a signed file succeeds without checking.
     */
    public boolean isSigned() {
        long h = handle.acquire();
        try {
            return Native.isSigned(h);
        } finally {
            handle.release();
        }
    }

    private static String utf8(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ predict: arrays

    /**
     * Predicts labels for {@code nRows} rows of int8 cells; {@code x.length} must be {@code nRows *
     * nFeatures()} ({@link ThetaTreeException#SHAPE} otherwise).
     */
    public int[] predict(byte[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            int[] out = new int[nRows];
            Native.predictBytes(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /** Predicts probabilities ({@code 2 * nRows} doubles) for int8 cells; see {@link #predict(byte[], int)}. */
    public double[] predictProba(byte[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            double[] out = new double[probaLen(nRows)];
            Native.probaBytes(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /** Predicts labels for {@code nRows} rows of double cells; see {@link #predict(byte[], int)}. */
    public int[] predict(double[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            int[] out = new int[nRows];
            Native.predictDoubles(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /** Predicts probabilities for double cells; see {@link #predictProba(byte[], int)}. */
    public double[] predictProba(double[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            double[] out = new double[probaLen(nRows)];
            Native.probaDoubles(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /**
     * Predicts labels for {@code nRows} rows read from {@code x[xOffset..]} ({@code nRows *
     * nFeatures()} cells) into {@code out[outOffset..outOffset+nRows)}. {@link
     * ThetaTreeException#LENGTH} if {@code x} or {@code out} is too short from its offset.
     */
    public void predictInto(byte[] x, int xOffset, int nRows, int[] out, int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.predictBytes(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /** Probabilities into {@code out[outOffset..outOffset+2*nRows)}; see {@link #predictInto(byte[], int, int, int[], int)}. */
    public void predictProbaInto(byte[] x, int xOffset, int nRows, double[] out, int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.probaBytes(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /** Double-cell version of {@link #predictInto(byte[], int, int, int[], int)}. */
    public void predictInto(double[] x, int xOffset, int nRows, int[] out, int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.predictDoubles(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /** Double-cell version of {@link #predictProbaInto(byte[], int, int, double[], int)}. */
    public void predictProbaInto(double[] x, int xOffset, int nRows, double[] out, int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.probaDoubles(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /** Columns per row for a whole-array call; the library then checks them against the model. */
    private int colsFor(int xLength, int nRows) {
        if (nRows < 0) {
            throw new ThetaTreeException(ThetaTreeException.SHAPE, "nRows is " + nRows);
        }
        if (nRows == 0) {
            if (xLength != 0) {
                throw new ThetaTreeException(ThetaTreeException.SHAPE,
                        "nRows is 0 but x has " + xLength + " values");
            }
            return nFeatures;
        }
        if (xLength % nRows != 0) {
            throw new ThetaTreeException(ThetaTreeException.SHAPE, "x has " + xLength
                    + " values, not a multiple of nRows " + nRows + " (the model has "
                    + nFeatures + " features)");
        }
        return xLength / nRows;
    }

    private static int probaLen(int nRows) {
        if (nRows > Integer.MAX_VALUE / 2) {
            throw new ThetaTreeException(ThetaTreeException.SHAPE,
                    "nRows " + nRows + " too large: 2 * nRows probabilities exceed a Java array");
        }
        return 2 * nRows;
    }

    private void checkArrays(Object x, int xOffset, int xLength, int nRows, int outLength,
            int outOffset) {
        Objects.requireNonNull(x, "x");
        Objects.checkIndex(xOffset, xLength + 1);
        Objects.checkIndex(outOffset, outLength + 1);
        handle.ensureOpen();
        if (nRows < 0) {
            throw new ThetaTreeException(ThetaTreeException.SHAPE, "nRows is " + nRows);
        }
        long need = (long) nRows * nFeatures;
        if (xLength - xOffset < need) {
            throw new ThetaTreeException(ThetaTreeException.LENGTH, "x has "
                    + (xLength - xOffset) + " values from offset " + xOffset + ", " + nRows
                    + " rows x " + nFeatures + " features need " + need);
        }
    }

    // ------------------------------------------------------------------ predict: direct buffers

    /** Labels for int8 cells in a direct buffer (zero copy), into a direct native-order {@code IntBuffer}. */
    public void predictInto(ByteBuffer x, int nRows, IntBuffer out) {
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_INT8, Native.OUT_LABEL, x, 1, nRows, out, Integer.BYTES);
    }

    /** Probabilities for int8 cells in a direct buffer, into a direct native-order {@code DoubleBuffer}. */
    public void predictProbaInto(ByteBuffer x, int nRows, DoubleBuffer out) {
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_INT8, Native.OUT_PROBA, x, 1, nRows, out, Double.BYTES);
    }

    /** Labels for double cells in a direct native-order {@code DoubleBuffer}. */
    public void predictInto(DoubleBuffer x, int nRows, IntBuffer out) {
        checkOrder(x, x == null ? null : x.order(), "x");
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_FLOAT64, Native.OUT_LABEL, x, Double.BYTES, nRows, out, Integer.BYTES);
    }

    /** Probabilities for double cells in a direct native-order {@code DoubleBuffer}. */
    public void predictProbaInto(DoubleBuffer x, int nRows, DoubleBuffer out) {
        checkOrder(x, x == null ? null : x.order(), "x");
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_FLOAT64, Native.OUT_PROBA, x, Double.BYTES, nRows, out, Double.BYTES);
    }

    /**
     * Labels from a raw direct buffer of {@code type} cells (FLOAT64: little-endian doubles; the
     * buffer's order must be {@link ByteOrder#LITTLE_ENDIAN}) into a little-endian direct buffer
     * of int32 labels.
     */
    public void predictInto(ByteBuffer x, CellType type, int nRows, ByteBuffer out) {
        int cell = cellOf(type);
        if (cell == Native.CELL_FLOAT64) {
            checkOrder(x, x == null ? null : x.order(), "x");
        }
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(cell, Native.OUT_LABEL, x, 1, nRows, out, 1);
    }

    /** Probabilities as little-endian doubles into a raw direct buffer; see {@link #predictInto(ByteBuffer, CellType, int, ByteBuffer)}. */
    public void predictProbaInto(ByteBuffer x, CellType type, int nRows, ByteBuffer out) {
        int cell = cellOf(type);
        if (cell == Native.CELL_FLOAT64) {
            checkOrder(x, x == null ? null : x.order(), "x");
        }
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(cell, Native.OUT_PROBA, x, 1, nRows, out, 1);
    }

    private static int cellOf(CellType type) {
        return Objects.requireNonNull(type, "type") == CellType.INT8
                ? Native.CELL_INT8
                : Native.CELL_FLOAT64;
    }

    private static void checkOrder(Buffer b, ByteOrder order, String what) {
        Objects.requireNonNull(b, what);
        if (order != ByteOrder.LITTLE_ENDIAN || ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalArgumentException(what + " must be a little-endian buffer (call "
                    + "order(ByteOrder.LITTLE_ENDIAN) on the ByteBuffer before taking views); "
                    + "its order is " + order);
        }
    }

    private void direct(int cell, int kind, Buffer x, int xElem, int nRows, Buffer out,
            int outElem) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(out, "out");
        if (!x.isDirect()) {
            throw new IllegalArgumentException("x must be a direct buffer (e.g. from "
                    + "ByteBuffer.allocateDirect); heap buffers are only accepted through the "
                    + "array overloads");
        }
        if (!out.isDirect()) {
            throw new IllegalArgumentException("out must be a direct buffer (e.g. from "
                    + "ByteBuffer.allocateDirect); heap buffers are only accepted through the "
                    + "array overloads");
        }
        if (out.isReadOnly()) {
            throw new IllegalArgumentException("out is a read-only buffer");
        }
        long h = handle.acquire();
        try {
            if (nRows < 0) {
                throw new ThetaTreeException(ThetaTreeException.SHAPE, "nRows is " + nRows);
            }
            long cellSize = cell == Native.CELL_INT8 ? 1 : Double.BYTES;
            long outSize = kind == Native.OUT_PROBA || kind == Native.OUT_CONTRIB
                    ? Double.BYTES
                    : Integer.BYTES;
            long need = (long) nRows * nFeatures;
            long have = (long) x.remaining() * xElem / cellSize;
            if (have < need) {
                throw new ThetaTreeException(ThetaTreeException.LENGTH, "x has " + have
                        + " cells remaining, " + nRows + " rows x " + nFeatures
                        + " features need " + need);
            }
            long outLen = (long) out.remaining() * outElem / outSize;
            Native.predictDirect(h, cell, kind, x, xElem, x.capacity(),
                    (long) x.position() * xElem, nRows, nFeatures, out, outElem, out.capacity(),
                    (long) out.position() * outElem, outLen);
        } finally {
            handle.release();
        }
    }

    // ------------------------------------------------------------------ explanations

    /**
     * The leaf each of {@code nRows} rows of int8 cells reaches, as its node index in the
     * reference's pre-order numbering (root 0, then the left subtree, then the right subtree; the
     * golden files' {@code leaf_preorder}, scikit-learn's {@code apply}). Errors as {@link
     * #predict(byte[], int)}.
     */
    public int[] predictLeaf(byte[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            int[] out = new int[nRows];
            Native.leafBytes(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /** Leaf indices for double cells; see {@link #predictLeaf(byte[], int)}. */
    public int[] predictLeaf(double[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            int[] out = new int[nRows];
            Native.leafDoubles(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /**
     * Leaf indices into {@code out[outOffset..outOffset+nRows)} without allocating; see {@link
     * #predictLeaf(byte[], int)} and {@link #predictInto(byte[], int, int, int[], int)}.
     */
    public void predictLeafInto(byte[] x, int xOffset, int nRows, int[] out, int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.leafBytes(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /** Double-cell version of {@link #predictLeafInto(byte[], int, int, int[], int)}. */
    public void predictLeafInto(double[] x, int xOffset, int nRows, int[] out, int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.leafDoubles(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /**
     * Per-feature contributions to P(class 1) for {@code nRows} rows of int8 cells: {@code
     * nFeatures() + 1} doubles per row (LightGBM's {@code pred_contrib} layout). {@code
     * out[r*(nFeatures()+1) + f]} is the sum of P1(child) - P1(node) over the splits on feature
     * {@code f} along the row's path (0 for a feature the path does not test); the last value of
     * each row is P(class 1) at the root. A row's values add up to its P(class 1) within 1e-12.
     */
    public double[] predictContrib(byte[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            double[] out = new double[contribLen(nRows)];
            Native.contribBytes(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /** Contributions for double cells; see {@link #predictContrib(byte[], int)}. */
    public double[] predictContrib(double[] x, int nRows) {
        Objects.requireNonNull(x, "x");
        long h = handle.acquire();
        try {
            int nCols = colsFor(x.length, nRows);
            double[] out = new double[contribLen(nRows)];
            Native.contribDoubles(h, x, 0, nRows, nCols, out, 0, out.length);
            return out;
        } finally {
            handle.release();
        }
    }

    /**
     * Contributions into {@code out[outOffset..outOffset+nRows*(nFeatures()+1))} without
     * allocating; see {@link #predictContrib(byte[], int)}. {@link ThetaTreeException#LENGTH} if
     * {@code out} is too short from its offset.
     */
    public void predictContribInto(byte[] x, int xOffset, int nRows, double[] out,
            int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.contribBytes(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /** Double-cell version of {@link #predictContribInto(byte[], int, int, double[], int)}. */
    public void predictContribInto(double[] x, int xOffset, int nRows, double[] out,
            int outOffset) {
        checkArrays(x, xOffset, x == null ? 0 : x.length, nRows,
                Objects.requireNonNull(out, "out").length, outOffset);
        long h = handle.acquire();
        try {
            Native.contribDoubles(h, x, xOffset, nRows, nFeatures, out, outOffset,
                    out.length - outOffset);
        } finally {
            handle.release();
        }
    }

    /** Leaf indices for int8 cells in a direct buffer (zero copy), into a direct little-endian {@code IntBuffer}. */
    public void predictLeafInto(ByteBuffer x, int nRows, IntBuffer out) {
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_INT8, Native.OUT_LEAF, x, 1, nRows, out, Integer.BYTES);
    }

    /** Leaf indices for double cells in a direct little-endian {@code DoubleBuffer}. */
    public void predictLeafInto(DoubleBuffer x, int nRows, IntBuffer out) {
        checkOrder(x, x == null ? null : x.order(), "x");
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_FLOAT64, Native.OUT_LEAF, x, Double.BYTES, nRows, out, Integer.BYTES);
    }

    /** Contributions for int8 cells in a direct buffer, into a direct little-endian {@code DoubleBuffer}. */
    public void predictContribInto(ByteBuffer x, int nRows, DoubleBuffer out) {
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_INT8, Native.OUT_CONTRIB, x, 1, nRows, out, Double.BYTES);
    }

    /** Contributions for double cells in a direct little-endian {@code DoubleBuffer}. */
    public void predictContribInto(DoubleBuffer x, int nRows, DoubleBuffer out) {
        checkOrder(x, x == null ? null : x.order(), "x");
        checkOrder(out, out == null ? null : out.order(), "out");
        direct(Native.CELL_FLOAT64, Native.OUT_CONTRIB, x, Double.BYTES, nRows, out,
                Double.BYTES);
    }

    /**
     * The nodes one row of int8 cells visits, from the root (0) to its leaf (last). {@code
     * row.length} must be {@link #nFeatures()} ({@link ThetaTreeException#SHAPE} otherwise); a
     * bad value on the path is {@link ThetaTreeException#INPUT_VALUE} with row 0 and its column.
     */
    public int[] decisionPath(byte[] row) {
        Objects.requireNonNull(row, "row");
        long h = handle.acquire();
        try {
            return Native.decisionPathBytes(h, row, 0, row.length);
        } finally {
            handle.release();
        }
    }

    /** The decision path of one row of double cells; see {@link #decisionPath(byte[])}. */
    public int[] decisionPath(double[] row) {
        Objects.requireNonNull(row, "row");
        long h = handle.acquire();
        try {
            return Native.decisionPathDoubles(h, row, 0, row.length);
        } finally {
            handle.release();
        }
    }

    /**
     * Node {@code index} (0 ≤ index &lt; {@link #nNodes()}, pre-order numbering); {@link
     * ThetaTreeException#NOT_FOUND} otherwise.
     */
    public Node node(int index) {
        if (index < 0) {
            handle.ensureOpen();
            throw new ThetaTreeException(ThetaTreeException.NOT_FOUND,
                    "node index " + index + " is negative");
        }
        int[] ints = new int[6];
        double[] doubles = new double[5];
        long h = handle.acquire();
        try {
            Native.nodeInfo(h, index, ints, doubles);
        } finally {
            handle.release();
        }
        return new Node(index, ints[0] != 0, ints[1], ints[2], ints[3], ints[4] != 0, ints[5],
                doubles[0], doubles[1], doubles[2], doubles[3], doubles[4]);
    }

    private int contribLen(int nRows) {
        long n = (long) nRows * (nFeatures + 1L);
        if (n > Integer.MAX_VALUE) {
            throw new ThetaTreeException(ThetaTreeException.SHAPE, "nRows " + nRows
                    + " too large: " + nRows + " x (" + nFeatures + " + 1) contributions exceed"
                    + " a Java array");
        }
        return (int) n;
    }

    // ------------------------------------------------------------------ lifetime

    /**
     * Marks the model closed, waits until no call is in flight, and frees the native model.
     * Idempotent and thread-safe; every caller returns only once the model is freed. Calls made
     * after close has started throw {@link IllegalStateException}.
     */
    @Override
    public void close() {
        handle.close();
        cleanable.clean(); // deregisters; Handle.close is a no-op the second time
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return handle.isClosing();
    }

    @Override
    public String toString() {
        return "Model[features=" + nFeatures + ", nodes=" + nNodes + ", depth=" + maxDepth
                + (isClosed() ? ", closed" : "") + "]";
    }

    /** Test hook: the handle (usage counter). */
    Handle handleForTest() {
        return handle;
    }

    /**
     * The native pointer plus an active-call counter. {@code state} holds the number of calls in
     * flight; its sign bit is set once closing has begun. A call increments it with a CAS (refused
     * when the sign bit is set) and decrements it when done; close sets the sign bit and waits
     * until only the sign bit remains, then frees. Not a reference to the Model, so that it can
     * serve as the Cleaner action.
     */
    static final class Handle implements Runnable {
        private static final int CLOSING = Integer.MIN_VALUE;
        private final long ptr;
        private final AtomicInteger state = new AtomicInteger();
        private final Object lock = new Object();
        private boolean freed; // guarded by lock

        Handle(long ptr) {
            this.ptr = ptr;
        }

        /** Registers a call in flight and returns the pointer; throws if closed. */
        long acquire() {
            for (;;) {
                int s = state.get();
                if (s < 0) {
                    throw closed();
                }
                if (s == Integer.MAX_VALUE) {
                    throw new IllegalStateException("too many concurrent calls on one Model");
                }
                if (state.compareAndSet(s, s + 1)) {
                    return ptr;
                }
            }
        }

        void release() {
            if (state.decrementAndGet() == CLOSING) {
                synchronized (lock) {
                    lock.notifyAll();
                }
            }
        }

        void ensureOpen() {
            if (state.get() < 0) {
                throw closed();
            }
        }

        boolean isClosing() {
            return state.get() < 0;
        }

        /** Number of calls in flight (test hook). */
        int inFlight() {
            return state.get() & Integer.MAX_VALUE;
        }

        boolean isFreed() {
            synchronized (lock) {
                return freed;
            }
        }

        private static IllegalStateException closed() {
            return new IllegalStateException("thetatree Model is closed");
        }

        void close() {
            for (;;) {
                int s = state.get();
                if (s < 0 || state.compareAndSet(s, s | CLOSING)) {
                    break;
                }
            }
            boolean interrupted = false;
            synchronized (lock) {
                while (!freed) {
                    if (state.get() == CLOSING) {
                        freed = true;
                        Native.free(ptr);
                        lock.notifyAll(); // other closers waiting for `freed`
                    } else {
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            interrupted = true; // keep waiting: freeing under a caller would crash
                        }
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void run() {
            close();
        }
    }
}
