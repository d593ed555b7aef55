package io.thetatree.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.ml.attribute.AttributeGroup;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DecimalType;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Checks the input schema against the model up front ({@code transformSchema}) and picks the
 * {@link RowReader} for it. Every problem is an {@link IllegalArgumentException} naming the column,
 * its type and what is accepted.
 */
final class InputSchema {
    private InputSchema() {}

    static final String FEATURE_TYPES = "array<tinyint>, array<int>, array<double>, binary (one "
            + "byte per feature) or an ml Vector (org.apache.spark.ml.linalg.VectorUDT)";

    /** The reader for a single features column. */
    static RowReader featuresColumn(StructType schema, String column, ModelData model) {
        int index = fieldIndex(schema, column, "features column");
        StructField field = schema.fields()[index];
        DataType t = field.dataType();
        int nf = model.nFeatures();
        if (t instanceof ArrayType a) {
            DataType e = a.elementType();
            if (e instanceof ByteType) {
                return new RowReaders.Int8Array(index, column, nf);
            }
            if (e instanceof IntegerType) {
                return new RowReaders.IntArray(index, column, nf);
            }
            if (e instanceof DoubleType) {
                return new RowReaders.DoubleArray(index, column, nf);
            }
        } else if (t instanceof BinaryType) {
            return new RowReaders.Binary(index, column, nf);
        } else if (SQLDataTypes.VectorType().equals(t)) {
            int size = AttributeGroup.fromStructField(field).size();
            if (size >= 0 && size != nf) {
                throw new IllegalArgumentException("features column '" + column + "' holds "
                        + "vectors of size " + size + " (its ML attribute metadata says so); the "
                        + "model has " + nf + " features");
            }
            return new RowReaders.VectorColumn(index, column, nf);
        }
        String hint = t.getClass().getName().equals("org.apache.spark.mllib.linalg.VectorUDT")
                ? " (this is the old spark.mllib Vector: convert it with "
                        + "MLUtils.convertVectorColumnsToML)"
                : "";
        throw new IllegalArgumentException("features column '" + column + "' has type "
                + t.simpleString() + hint + "; expected " + FEATURE_TYPES);
    }

    /**
     * The reader for one column per feature: {@code columns} must name each of the model's
     * features exactly once (matched by name, in any order), and nothing else.
     */
    static RowReader featureColumns(StructType schema, String[] columns, ModelData model) {
        if (columns.length == 0) {
            throw new IllegalArgumentException("inputCols is empty; it must name one column per "
                    + "model feature (" + model.nFeatures() + " features)");
        }
        Map<String, Integer> featureIndex = new HashMap<>();
        for (int j = 0; j < model.nFeatures(); j++) {
            featureIndex.put(model.featureName(j), j);
        }
        int[] fieldOfFeature = new int[model.nFeatures()];
        Arrays.fill(fieldOfFeature, -1);
        Set<String> seen = new HashSet<>();
        for (String c : columns) {
            if (c == null) {
                throw new IllegalArgumentException("inputCols contains null");
            }
            if (!seen.add(c)) {
                throw new IllegalArgumentException("inputCols names column '" + c + "' twice");
            }
            Integer j = featureIndex.get(c);
            if (j == null) {
                throw new IllegalArgumentException("input column '" + c + "' is not a feature of "
                        + "the model (its " + model.nFeatures() + " features are matched to "
                        + "columns by name; see getFeatureNames())");
            }
            int index = fieldIndex(schema, c, "input column");
            DataType t = schema.fields()[index].dataType();
            if (!isNumericOrBoolean(t)) {
                String hint = t instanceof DecimalType ? " (cast it to double or int)" : "";
                throw new IllegalArgumentException("input column '" + c + "' has type "
                        + t.simpleString() + hint + "; expected a boolean, tinyint, smallint, "
                        + "int, bigint, float or double column");
            }
            fieldOfFeature[j] = index;
        }
        List<String> absent = new ArrayList<>();
        for (int j = 0; j < fieldOfFeature.length; j++) {
            if (fieldOfFeature[j] < 0) {
                absent.add(model.featureName(j));
            }
        }
        if (!absent.isEmpty()) {
            throw new IllegalArgumentException(absent.size() + " of the model's "
                    + model.nFeatures() + " features have no column in inputCols: "
                    + quoted(absent, 10));
        }
        return new RowReaders.Columns(fieldOfFeature, model.featureNames());
    }

    /** Fails if {@code name} is already a column of {@code schema}. */
    static void checkNewColumn(StructType schema, String name, String param) {
        if (Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException("output column '" + name + "' (" + param
                    + ") already exists in the input; choose another name");
        }
    }

    private static boolean isNumericOrBoolean(DataType t) {
        return t instanceof BooleanType || t instanceof ByteType || t instanceof ShortType
                || t instanceof IntegerType || t instanceof LongType || t instanceof FloatType
                || t instanceof DoubleType;
    }

    private static int fieldIndex(StructType schema, String column, String what) {
        String[] names = schema.fieldNames();
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(column)) {
                return i;
            }
        }
        throw new IllegalArgumentException(what + " '" + column + "' does not exist; the input "
                + "has " + names.length + " columns: " + quoted(Arrays.asList(names), 20));
    }

    private static String quoted(List<String> names, int max) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < names.size() && i < max; i++) {
            b.append(i == 0 ? "'" : ", '").append(names.get(i)).append('\'');
        }
        if (names.size() > max) {
            b.append(", ... (").append(names.size() - max).append(" more)");
        }
        return b.toString();
    }
}
