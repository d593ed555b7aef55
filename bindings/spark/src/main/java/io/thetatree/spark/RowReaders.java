package io.thetatree.spark;

import java.nio.ByteBuffer;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;
import scala.collection.Seq;

/**
 * The {@link RowReader} of each supported input: one features column ({@code array<tinyint>},
 * {@code array<int>}, {@code array<double>}, {@code binary}, ml {@code Vector}) or one column per
 * feature. Every input becomes int8 cells (0 absent, 1 present, -1 missing): one byte per cell
 * instead of eight keeps a batch of wide rows small (a sparse row of 354 features is zeroed and
 * scattered into 354 bytes, not 2.8 KB). Null elements and null columns are missing.
 *
 * <p>The conversions decide nothing: a value the library accepts keeps its meaning, and every
 * other value becomes a byte the library rejects in the same way ({@link #ofDouble}, {@link
 * #ofLong}), so the library's error still names the row and column, and the message quotes the
 * original value from the row.
 */
final class RowReaders {
    private RowReaders() {}

    /** A cell the library rejects (only 0, 1 and -1 are valid int8 cells). */
    static final byte REJECTED = 2;

    /**
     * The int8 cell of a double cell, as the library reads doubles: 0.0 and -0.0 absent, 1.0
     * present, NaN missing; anything else is {@link #REJECTED}.
     */
    static byte ofDouble(double d) {
        if (d == 0.0) {
            return 0;
        }
        if (d == 1.0) {
            return 1;
        }
        return Double.isNaN(d) ? (byte) -1 : REJECTED;
    }

    /** An integer cell: values in the byte range are kept (-1 missing), others are rejected. */
    static byte ofLong(long v) {
        return v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE ? (byte) v : REJECTED;
    }

    /** A features column holding all cells of a row. */
    private abstract static class FeaturesColumn implements RowReader {
        private static final long serialVersionUID = 1L;
        final int column;
        final String name;
        final int nFeatures;

        FeaturesColumn(int column, String name, int nFeatures) {
            this.column = column;
            this.name = name;
            this.nFeatures = nFeatures;
        }

        /** Null features value or wrong length: the reason, else null. */
        final String checkShape(Object value, int length) {
            if (value == null) {
                return "features column '" + name + "' is null";
            }
            if (length != nFeatures) {
                return "features column '" + name + "' has " + length + " values; the model has "
                        + nFeatures + " features";
            }
            return null;
        }

        @Override
        public String sourceOf(int feature) {
            return "features column '" + name + "'";
        }
    }

    /** {@code array<tinyint>}: bytes as they are; null elements missing (-1). */
    static final class Int8Array extends FeaturesColumn {
        private static final long serialVersionUID = 1L;

        Int8Array(int column, String name, int nFeatures) {
            super(column, name, nFeatures);
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            Seq<Object> s = row.getSeq(column);
            String bad = checkShape(s, s == null ? 0 : s.length());
            if (bad != null) {
                buf.zero(slot);
                return bad;
            }
            ByteBuffer x = buf.int8();
            int base = buf.rowStart(slot);
            for (int j = 0; j < nFeatures; j++) {
                Object v = s.apply(j);
                x.put(base + j, v == null ? (byte) -1 : (Byte) v);
            }
            return null;
        }

        @Override
        public String valueOf(Row row, int feature) {
            return String.valueOf(row.getSeq(column).apply(feature));
        }
    }

    /** {@code array<int>}: -1 is missing, as for bytes; values outside the byte range rejected. */
    static final class IntArray extends FeaturesColumn {
        private static final long serialVersionUID = 1L;

        IntArray(int column, String name, int nFeatures) {
            super(column, name, nFeatures);
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            Seq<Object> s = row.getSeq(column);
            String bad = checkShape(s, s == null ? 0 : s.length());
            if (bad != null) {
                buf.zero(slot);
                return bad;
            }
            ByteBuffer x = buf.int8();
            int base = buf.rowStart(slot);
            for (int j = 0; j < nFeatures; j++) {
                Object v = s.apply(j);
                x.put(base + j, v == null ? (byte) -1 : ofLong((Integer) v));
            }
            return null;
        }

        @Override
        public String valueOf(Row row, int feature) {
            return String.valueOf(row.getSeq(column).apply(feature));
        }
    }

    /** {@code array<double>}: NaN and null elements are missing. */
    static final class DoubleArray extends FeaturesColumn {
        private static final long serialVersionUID = 1L;

        DoubleArray(int column, String name, int nFeatures) {
            super(column, name, nFeatures);
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            Seq<Object> s = row.getSeq(column);
            String bad = checkShape(s, s == null ? 0 : s.length());
            if (bad != null) {
                buf.zero(slot);
                return bad;
            }
            ByteBuffer x = buf.int8();
            int base = buf.rowStart(slot);
            for (int j = 0; j < nFeatures; j++) {
                Object v = s.apply(j);
                x.put(base + j, v == null ? (byte) -1 : ofDouble((Double) v));
            }
            return null;
        }

        @Override
        public String valueOf(Row row, int feature) {
            return String.valueOf(row.getSeq(column).apply(feature));
        }
    }

    /** {@code binary}: one byte per feature (0, 1, 0xFF = -1 = missing), copied in one put. */
    static final class Binary extends FeaturesColumn {
        private static final long serialVersionUID = 1L;

        Binary(int column, String name, int nFeatures) {
            super(column, name, nFeatures);
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            byte[] b = (byte[]) row.get(column);
            String bad = checkShape(b, b == null ? 0 : b.length);
            if (bad != null) {
                buf.zero(slot);
                return bad;
            }
            buf.int8().put(buf.rowStart(slot), b);
            return null;
        }

        @Override
        public String valueOf(Row row, int feature) {
            return "byte " + ((byte[]) row.get(column))[feature];
        }
    }

    /** ml {@code Vector}, dense or sparse (absent entries are 0); NaN is missing. */
    static final class VectorColumn extends FeaturesColumn {
        private static final long serialVersionUID = 1L;

        VectorColumn(int column, String name, int nFeatures) {
            super(column, name, nFeatures);
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            Vector v = (Vector) row.get(column);
            String bad = checkShape(v, v == null ? 0 : v.size());
            if (bad != null) {
                buf.zero(slot);
                return bad;
            }
            ByteBuffer x = buf.int8();
            int base = buf.rowStart(slot);
            if (v instanceof DenseVector d) {
                double[] val = d.values();
                for (int j = 0; j < nFeatures; j++) {
                    x.put(base + j, ofDouble(val[j]));
                }
            } else {
                SparseVector s = (SparseVector) v;
                buf.zero(slot);
                int[] idx = s.indices();
                double[] val = s.values();
                for (int k = 0; k < idx.length; k++) {
                    x.put(base + idx[k], ofDouble(val[k]));
                }
            }
            return null;
        }

        @Override
        public String valueOf(Row row, int feature) {
            return String.valueOf(((Vector) row.get(column)).apply(feature));
        }
    }

    /**
     * One numeric or boolean column per feature ({@code setInputCols}): booleans are 1/0, integers
     * and floating-point numbers read as in the array forms, null is missing.
     */
    static final class Columns implements RowReader {
        private static final long serialVersionUID = 1L;
        private final int[] fieldOfFeature;
        private final String[] names;

        /** {@code fieldOfFeature[j]}: index in the row of the column of feature j, named names[j]. */
        Columns(int[] fieldOfFeature, String[] names) {
            this.fieldOfFeature = fieldOfFeature;
            this.names = names;
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            ByteBuffer x = buf.int8();
            int base = buf.rowStart(slot);
            for (int j = 0; j < fieldOfFeature.length; j++) {
                x.put(base + j, cell(row.get(fieldOfFeature[j])));
            }
            return null;
        }

        private static byte cell(Object v) {
            if (v == null) {
                return -1;
            }
            if (v instanceof Boolean b) {
                return b ? (byte) 1 : 0;
            }
            if (v instanceof Double || v instanceof Float) {
                return ofDouble(((Number) v).doubleValue());
            }
            return ofLong(((Number) v).longValue()); // byte, short, int, long
        }

        @Override
        public String valueOf(Row row, int feature) {
            return String.valueOf(row.get(fieldOfFeature[feature]));
        }

        @Override
        public String sourceOf(int feature) {
            return "column '" + names[feature] + "'";
        }
    }
}
