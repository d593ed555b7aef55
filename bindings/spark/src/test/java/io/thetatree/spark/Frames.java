package io.thetatree.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * DataFrames holding reference input rows in every input form the model accepts, side by side:
 * {@code row} (the input's row id), {@code i8} array&lt;tinyint&gt;, {@code i32} array&lt;int&gt;,
 * {@code f64} array&lt;double&gt;, {@code bin} binary, {@code dense} and {@code sparse} ml
 * Vectors, and one column per feature, named like it, of a type that cycles through boolean,
 * tinyint, int, bigint and double. Missing cells are -1 (byte/int forms), NaN (double forms and
 * vectors) and null (named columns; the double ones alternate null and NaN).
 */
final class Frames {
    private Frames() {}

    /** The single-column input forms and their column names. */
    static final List<String> FEATURE_COLUMNS = List.of("i8", "i32", "f64", "bin", "dense", "sparse");

    private static final DataType[] NAMED_TYPES = {DataTypes.BooleanType, DataTypes.ByteType,
        DataTypes.IntegerType, DataTypes.LongType, DataTypes.DoubleType};

    static StructType schema(List<String> featureNames) {
        List<StructField> f = new ArrayList<>();
        f.add(DataTypes.createStructField("row", DataTypes.IntegerType, false));
        f.add(DataTypes.createStructField("i8", DataTypes.createArrayType(DataTypes.ByteType, false), true));
        f.add(DataTypes.createStructField("i32", DataTypes.createArrayType(DataTypes.IntegerType, false), true));
        f.add(DataTypes.createStructField("f64", DataTypes.createArrayType(DataTypes.DoubleType, false), true));
        f.add(DataTypes.createStructField("bin", DataTypes.BinaryType, true));
        f.add(DataTypes.createStructField("dense", SQLDataTypes.VectorType(), true));
        f.add(DataTypes.createStructField("sparse", SQLDataTypes.VectorType(), true));
        for (int j = 0; j < featureNames.size(); j++) {
            f.add(DataTypes.createStructField(featureNames.get(j), NAMED_TYPES[j % NAMED_TYPES.length], true));
        }
        return DataTypes.createStructType(f);
    }

    /** One row of {@link #schema}: id and cells (0, 1, -1 = missing). */
    static Row row(int id, byte[] cells) {
        int nf = cells.length;
        Object[] v = new Object[7 + nf];
        List<Byte> i8 = new ArrayList<>(nf);
        List<Integer> i32 = new ArrayList<>(nf);
        List<Double> f64 = new ArrayList<>(nf);
        double[] dense = new double[nf];
        int nonZero = 0;
        for (byte c : cells) {
            nonZero += c != 0 ? 1 : 0;
        }
        int[] idx = new int[nonZero];
        double[] val = new double[nonZero];
        int k = 0;
        for (int j = 0; j < nf; j++) {
            byte c = cells[j];
            double d = c == -1 ? Double.NaN : c;
            i8.add(c);
            i32.add((int) c);
            f64.add(d);
            dense[j] = d;
            if (c != 0) {
                idx[k] = j;
                val[k++] = d;
            }
            v[7 + j] = named(j, c, id);
        }
        v[0] = id;
        v[1] = i8;
        v[2] = i32;
        v[3] = f64;
        v[4] = cells.clone();
        v[5] = Vectors.dense(dense);
        v[6] = Vectors.sparse(nf, idx, val);
        return RowFactory.create(v);
    }

    private static Object named(int j, byte c, int id) {
        if (c == -1) {
            boolean nan = NAMED_TYPES[j % NAMED_TYPES.length] == DataTypes.DoubleType && id % 2 == 0;
            return nan ? Double.NaN : null;
        }
        return switch (j % NAMED_TYPES.length) {
            case 0 -> c == 1;
            case 1 -> c;
            case 2 -> (int) c;
            case 3 -> (long) c;
            default -> (double) c;
        };
    }

    /** All rows of a reference input, in {@code partitions} partitions. */
    static Dataset<Row> of(ReferenceData.Input in, int partitions) {
        List<Row> rows = new ArrayList<>(in.nRows());
        for (int r = 0; r < in.nRows(); r++) {
            rows.add(row(in.rowIds()[r], in.cells()[r]));
        }
        return SparkTestSession.get().createDataFrame(rows, schema(in.featureNames()))
                .repartition(partitions);
    }
}
