package io.thetatree;

import java.nio.Buffer;

/**
 * The JNI entry points (src/main/native/thetatree_jni.c). Package-private: {@link Model} checks
 * every argument and guarantees that a handle is live for the duration of a call. Strings come
 * back as UTF-8 bytes; a failing C call throws {@link ThetaTreeException}.
 */
final class Native {
    static final int CELL_INT8 = 0;
    static final int CELL_FLOAT64 = 1;

    // What a batch call writes per row (OUT_* in thetatree_jni.c).
    static final int OUT_LABEL = 0;
    static final int OUT_PROBA = 1;
    static final int OUT_LEAF = 2;
    static final int OUT_CONTRIB = 3;

    // Load flags: values of TT_LOAD_* in thetatree.h (checked against the header by a test).
    static final int TT_LOAD_DEFAULT = 0;
    static final int TT_LOAD_COPY = 1;

    /** The ABI version this Java code was written for (TT_ABI_VERSION in thetatree.h). */
    static final int EXPECTED_ABI_VERSION = 1;

    static {
        NativeLoader.ensureLoaded();
    }

    private Native() {}

    /** Forces class initialisation (loads and checks the native library). */
    static void init() {}

    static native int abiVersion();

    static native int headerAbiVersion();

    static native byte[] libraryVersion();

    static native byte[] headerVersion();

    static native String statusName(int code);

    static native long load(byte[] pathNul, int flags, byte[] key);

    static native long loadBytes(byte[] data, int off, int len, int flags, byte[] key);

    static native void free(long h);

    static native long nFeatures(long h);

    static native long nClasses(long h);

    static native long nNodes(long h);

    static native long nLeaves(long h);

    static native long maxDepth(long h);

    static native byte[] featureName(long h, long index);

    static native byte[] classLabel(long h, long index);

    /** -1 if not found. */
    static native long featureIndex(long h, byte[] nameNul);

    static native byte[] modelVersion(long h);

    static native byte[] metadataJson(long h);

    static native long crc32(long h);

    static native boolean isSigned(long h);

    static native byte[] digest(long h);

    static native void predictBytes(
            long h, byte[] x, int xOff, int nRows, int nCols, int[] out, int outOff, int outLen);

    static native void probaBytes(
            long h, byte[] x, int xOff, int nRows, int nCols, double[] out, int outOff, int outLen);

    static native void predictDoubles(
            long h, double[] x, int xOff, int nRows, int nCols, int[] out, int outOff, int outLen);

    static native void probaDoubles(
            long h, double[] x, int xOff, int nRows, int nCols, double[] out, int outOff,
            int outLen);

    static native void leafBytes(
            long h, byte[] x, int xOff, int nRows, int nCols, int[] out, int outOff, int outLen);

    static native void leafDoubles(
            long h, double[] x, int xOff, int nRows, int nCols, int[] out, int outOff, int outLen);

    static native void contribBytes(
            long h, byte[] x, int xOff, int nRows, int nCols, double[] out, int outOff,
            int outLen);

    static native void contribDoubles(
            long h, double[] x, int xOff, int nRows, int nCols, double[] out, int outOff,
            int outLen);

    /** The root-to-leaf node indices of {@code x[xOff, xOff + nCols)}. */
    static native int[] decisionPathBytes(long h, byte[] x, int xOff, int nCols);

    static native int[] decisionPathDoubles(long h, double[] x, int xOff, int nCols);

    /**
     * tt_node_info: {@code ints} = {is_leaf, feature, left, right, missing_right, label},
     * {@code doubles} = {n_samples, class_counts[0], class_counts[1], p0, p1}.
     */
    static native void nodeInfo(long h, long node, int[] ints, double[] doubles);

    /** {@code kind} is one of the OUT_* constants. */
    static native void predictDirect(
            long h, int cell, int kind, Buffer x, int xElem, int xCapacity, long xByteOff,
            long nRows, long nCols, Buffer out, int outElem, int outCapacity, long outByteOff,
            long outLen);
}
