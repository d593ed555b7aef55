package io.thetatree.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;

/**
 * Direct (off-heap) buffers for one batch of rows: the int8 input cells, row-major, and the outputs
 * of each {@link Kernel}. The library reads and writes them in place (the Java binding's zero-copy
 * path). One per partition iterator, never shared between threads. Capacity grows to the largest
 * batch seen, so a partition of ten rows does not allocate a full batch.
 */
final class BatchBuffer {
    private final int nFeatures;
    private final byte[] zeros;
    private int capacity;
    private ByteBuffer cells;
    private IntBuffer labels;
    private DoubleBuffer probabilities;
    private IntBuffer leaves;

    BatchBuffer(int nFeatures) {
        this.nFeatures = nFeatures;
        this.zeros = new byte[nFeatures];
    }

    /** Makes room for {@code rows} rows (contents are not kept). */
    void ensureCapacity(int rows) {
        if (rows <= capacity) {
            return;
        }
        cells = ByteBuffer.allocateDirect(Math.multiplyExact(rows, nFeatures));
        labels = ByteBuffer.allocateDirect(rows * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .asIntBuffer();
        probabilities = ByteBuffer.allocateDirect(rows * 2 * Double.BYTES)
                .order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
        leaves = ByteBuffer.allocateDirect(rows * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .asIntBuffer();
        capacity = rows;
    }

    /** Index of the first cell of {@code slot}. */
    int rowStart(int slot) {
        return slot * nFeatures;
    }

    /** The cells. Readers use absolute puts only: positions belong to {@link Kernel}. */
    ByteBuffer int8() {
        return cells;
    }

    IntBuffer labels() {
        return labels;
    }

    DoubleBuffer probabilities() {
        return probabilities;
    }

    IntBuffer leaves() {
        return leaves;
    }

    /** Sets every cell of {@code slot} to 0 (absent). */
    void zero(int slot) {
        cells.put(rowStart(slot), zeros);
    }
}
