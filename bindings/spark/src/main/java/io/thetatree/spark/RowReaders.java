package io.thetatree.spark;

import io.thetatree.CellType;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;
import scala.collection.Seq;

/**
 * The {@link RowReader} of each supported input: one features column ({@code array<tinyint>},
 * {@code array<int>}, {@code array<double>}, {@code binary}, ml {@code Vector}) or one column per
 * feature. Byte inputs keep their bytes (0, 1, -1 = missing); all others become doubles (NaN =
 * missing). Null elements and null columns are missing.
 */
final class RowReaders {
    private RowReaders() {}

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
        public CellType cellType() {
            return CellType.INT8;
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

    /**
     * {@code array<int>}: -1 is missing, as for bytes. Values outside the byte range saturate to
     * -128 / 127, which the library rejects like any other value that is not 0, 1 or -1; messages
     * quote the original int.
     */
    static final class IntArray extends FeaturesColumn {
        private static final long serialVersionUID = 1L;

        IntArray(int column, String name, int nFeatures) {
            super(column, name, nFeatures);
        }

        @Override
        public CellType cellType() {
            return CellType.INT8;
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
                x.put(base + j, v == null ? (byte) -1 : saturate((Integer) v));
            }
            return null;
        }

        private static byte saturate(int v) {
            return (byte) Math.max(Byte.MIN_VALUE, Math.min(Byte.MAX_VALUE, v));
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
        public CellType cellType() {
            return CellType.FLOAT64;
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            Seq<Object> s = row.getSeq(column);
            String bad = checkShape(s, s == null ? 0 : s.length());
            if (bad != null) {
                buf.zero(slot);
                return bad;
            }
            DoubleBuffer x = buf.float64();
            int base = buf.rowStart(slot);
            for (int j = 0; j < nFeatures; j++) {
                Object v = s.apply(j);
                x.put(base + j, v == null ? Double.NaN : (Double) v);
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
        public CellType cellType() {
            return CellType.INT8;
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
        public CellType cellType() {
            return CellType.FLOAT64;
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            Vector v = (Vector) row.get(column);
            String bad = checkShape(v, v == null ? 0 : v.size());
            if (bad != null) {
                buf.zero(slot);
                return bad;
            }
            DoubleBuffer x = buf.float64();
            int base = buf.rowStart(slot);
            if (v instanceof DenseVector d) {
                x.put(base, d.values());
            } else {
                SparseVector s = (SparseVector) v;
                buf.zero(slot);
                int[] idx = s.indices();
                double[] val = s.values();
                for (int k = 0; k < idx.length; k++) {
                    x.put(base + idx[k], val[k]);
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
     * One numeric or boolean column per feature ({@code setInputCols}): booleans are 1/0, numbers
     * their double value, null is missing.
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
        public CellType cellType() {
            return CellType.FLOAT64;
        }

        @Override
        public String fill(Row row, BatchBuffer buf, int slot) {
            DoubleBuffer x = buf.float64();
            int base = buf.rowStart(slot);
            for (int j = 0; j < fieldOfFeature.length; j++) {
                Object v = row.get(fieldOfFeature[j]);
                double d;
                if (v == null) {
                    d = Double.NaN;
                } else if (v instanceof Boolean b) {
                    d = b ? 1.0 : 0.0;
                } else {
                    d = ((Number) v).doubleValue();
                }
                x.put(base + j, d);
            }
            return null;
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
