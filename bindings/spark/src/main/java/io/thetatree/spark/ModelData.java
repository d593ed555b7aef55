package io.thetatree.spark;

import io.thetatree.Model;
import io.thetatree.ThetaTreeException;
import java.io.Serializable;
import java.util.HexFormat;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The validated {@code .ttm} bytes of a stage, the metadata read from them once on the driver, and
 * the broadcast that ships the bytes to executors. Immutable apart from the lazily created
 * broadcast; shared by copies of a {@link ThetaTreeModel}, so a copied stage does not broadcast
 * the model again.
 */
final class ModelData implements Serializable {
    private static final long serialVersionUID = 1L;

    private final byte[] bytes;
    private final String digest;
    private final String version;
    private final String[] featureNames;
    private final String[] classLabels;
    private final int nNodes;
    private final int maxDepth;

    // Driver-side only: one broadcast per SparkContext, replaced if that context stops.
    private transient Broadcast<byte[]> broadcast;
    private transient SparkContext broadcastContext;

    private ModelData(byte[] bytes, Model m) {
        this.bytes = bytes;
        this.digest = HexFormat.of().formatHex(m.digest());
        this.version = m.version();
        this.featureNames = m.featureNames().toArray(new String[0]);
        this.classLabels = m.classLabels().toArray(new String[0]);
        this.nNodes = m.nNodes();
        this.maxDepth = m.maxDepth();
    }

    /**
     * Validates {@code bytes} by loading them once through the library and keeps them (not a copy:
     * callers pass an array nobody else holds). Load errors keep their code and byte offset and
     * name {@code source} in the message.
     */
    static ModelData of(byte[] bytes, String source) {
        try (Model m = Model.load(bytes)) {
            return new ModelData(bytes, m);
        } catch (ThetaTreeException e) {
            throw withSource(e, source);
        }
    }

    /** The same error with {@code source} (a path, "fromBytes") in front of its detail. */
    static ThetaTreeException withSource(ThetaTreeException e, String source) {
        ThetaTreeException named = new ThetaTreeException(e.code(), source + ": " + e.detail(),
                e.row(), e.column(), e.byteOffset());
        named.initCause(e);
        return named;
    }

    byte[] bytes() {
        return bytes;
    }

    /** SHA-256 of the model (without a signature trailer), lowercase hex. */
    String digest() {
        return digest;
    }

    String version() {
        return version;
    }

    int nFeatures() {
        return featureNames.length;
    }

    String featureName(int i) {
        return featureNames[i];
    }

    String[] featureNames() {
        return featureNames.clone();
    }

    List<String> featureNameList() {
        return List.of(featureNames);
    }

    String[] classLabels() {
        return classLabels.clone();
    }

    int nNodes() {
        return nNodes;
    }

    int maxDepth() {
        return maxDepth;
    }

    /** The broadcast of the bytes on {@code sc}, created on first use. */
    synchronized Broadcast<byte[]> broadcast(SparkContext sc) {
        if (broadcast == null || broadcastContext != sc || sc.isStopped()) {
            broadcast = JavaSparkContext.fromSparkContext(sc).broadcast(bytes);
            broadcastContext = sc;
        }
        return broadcast;
    }
}
