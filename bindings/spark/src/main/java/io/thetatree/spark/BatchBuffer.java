package io.thetatree.spark;

import io.thetatree.CellType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;

/**
 * Direct (off-heap) buffers for one batch of rows: the input cells, row-major, and the outputs of
 * each {@link Kernel}. The library reads and writes them in place (the Java binding's zero-copy
 * path). One per partition iterator, never shared between threads. Capacity grows to the largest
 * batch seen, so a partition of ten rows does not allocate a full batch.
 */
final class BatchBuffer {
    private final int nFeatures;
    private final CellType cell;
    private int capacity;
    private ByteBuffer int8;
    private DoubleBuffer float64;
    private IntBuffer labels;
    private DoubleBuffer probabilities;
    private final byte[] zeroBytes;
    private final double[] zeroDoubles;

    BatchBuffer(int nFeatures, CellType cell) {
        this.nFeatures = nFeatures;
        this.cell = cell;
        this.zeroBytes = cell == CellType.INT8 ? new byte[nFeatures] : null;
        this.zeroDoubles = cell == CellType.FLOAT64 ? new double[nFeatures] : null;
    }

    /** Makes room for {@code rows} rows (contents are not kept). */
    void ensureCapacity(int rows) {
        if (rows <= capacity) {
            return;
        }
        ByteBuffer x = ByteBuffer.allocateDirect(Math.multiplyExact(rows,
                cell == CellType.INT8 ? nFeatures : nFeatures * Double.BYTES))
                .order(ByteOrder.LITTLE_ENDIAN);
        if (cell == CellType.INT8) {
            int8 = x;
        } else {
            float64 = x.asDoubleBuffer();
        }
        labels = ByteBuffer.allocateDirect(rows * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .asIntBuffer();
        probabilities = ByteBuffer.allocateDirect(rows * 2 * Double.BYTES)
                .order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
        capacity = rows;
    }

    int nFeatures() {
        return nFeatures;
    }

    CellType cellType() {
        return cell;
    }

    /** Index of the first cell of {@code slot}. */
    int rowStart(int slot) {
        return slot * nFeatures;
    }

    /** The int8 cells (INT8 batches). Absolute puts only: positions belong to {@link Kernel}. */
    ByteBuffer int8() {
        return int8;
    }

    /** The double cells (FLOAT64 batches). */
    DoubleBuffer float64() {
        return float64;
    }

    IntBuffer labels() {
        return labels;
    }

    DoubleBuffer probabilities() {
        return probabilities;
    }

    /** Sets every cell of {@code slot} to 0 (absent). */
    void zero(int slot) {
        if (cell == CellType.INT8) {
            int8.put(rowStart(slot), zeroBytes);
        } else {
            float64.put(rowStart(slot), zeroDoubles);
        }
    }
}
