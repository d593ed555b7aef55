package io.thetatree;

/** Element type of a raw input {@link java.nio.ByteBuffer}. */
public enum CellType {
    /** One signed byte per cell: 0 absent, 1 present, -1 missing. */
    INT8,
    /** One little-endian IEEE double per cell: 0.0 (or -0.0) absent, 1.0 present, NaN missing. */
    FLOAT64
}
