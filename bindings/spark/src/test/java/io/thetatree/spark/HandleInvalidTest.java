package io.thetatree.spark;

import static io.thetatree.spark.ReferenceData.assertBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.thetatree.Model;
import io.thetatree.ThetaTreeException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * handleInvalid "error", "skip" and "keep" for every input form: a value the library rejects on
 * the row's path, a null features value and a wrong-length one. Valid rows are checked against the
 * Java binding called directly on the same cells. Rows are in one partition, in order, so that
 * error messages can be checked for the row index.
 */
class HandleInvalidTest {
    /** Cell marking "a value that is not 0, 1 or missing"; each form writes its own bad value. */
    private static final byte BAD = 99;
    private static final int ROOT = 52; // the root split's feature of mushroom_gini_d5_lgk12

    private static ReferenceData.RefModel ref;
    private static Model oracle;
    private static ThetaTreeModel model;
    private static List<String> names;
    private static byte[][] clean; // mushroom rows 0..9
    private static int offPath = -1; // a feature that row 6's walk does not read

    /** An input form: how a row's cells become the features value, and its bad value. */
    enum Form {
        I8(DataTypes.createArrayType(DataTypes.ByteType, false), "2"),
        I32(DataTypes.createArrayType(DataTypes.IntegerType, true), "300"),
        F64(DataTypes.createArrayType(DataTypes.DoubleType, true), "0.5"),
        BIN(DataTypes.BinaryType, "byte 2"),
        DENSE(SQLDataTypes.VectorType(), "0.5"),
        SPARSE(SQLDataTypes.VectorType(), "2.0"),
        NAMED(null, "7");

        final DataType type;
        final String badText;

        Form(DataType type, String badText) {
            this.type = type;
            this.badText = badText;
        }

        Object encode(byte[] cells) {
            int n = cells.length;
            switch (this) {
                case I8: {
                    List<Byte> l = new ArrayList<>();
                    for (byte c : cells) {
                        l.add(c == BAD ? 2 : c);
                    }
                    return l;
                }
                case I32: {
                    List<Integer> l = new ArrayList<>();
                    for (byte c : cells) {
                        l.add(c == BAD ? Integer.valueOf(300) : c == -1 ? null : Integer.valueOf(c));
                    }
                    return l;
                }
                case F64: {
                    List<Double> l = new ArrayList<>();
                    for (byte c : cells) {
                        l.add(c == BAD ? Double.valueOf(0.5) : c == -1 ? null : Double.valueOf(c));
                    }
                    return l;
                }
                case BIN: {
                    byte[] b = cells.clone();
                    for (int j = 0; j < n; j++) {
                        b[j] = b[j] == BAD ? 2 : b[j];
                    }
                    return b;
                }
                case DENSE: {
                    double[] d = new double[n];
                    for (int j = 0; j < n; j++) {
                        d[j] = cells[j] == BAD ? 0.5 : cells[j] == -1 ? Double.NaN : cells[j];
                    }
                    return Vectors.dense(d);
                }
                case SPARSE: {
                    double[] d = new double[n];
                    for (int j = 0; j < n; j++) {
                        d[j] = cells[j] == BAD ? 2.0 : cells[j] == -1 ? Double.NaN : cells[j];
                    }
                    return Vectors.dense(d).toSparse();
                }
                default:
                    throw new AssertionError(this);
            }
        }
    }

    @BeforeAll
    static void setUp() {
        ref = ReferenceData.model("mushroom_gini_d5_lgk12");
        oracle = Model.load(ref.ttm());
        model = ThetaTreeModel.fromFile(ref.ttm().toString());
        names = List.of(model.getFeatureNames());
        ReferenceData.Input in = ReferenceData.input(ref.dataset(), false);
        clean = Arrays.copyOf(in.cells(), 10);
        for (int j = 0; j < names.size() && offPath < 0; j++) {
            byte[] x = clean[6].clone();
            x[j] = 2;
            try {
                oracle.predict(x, 1);
                offPath = j;
            } catch (ThetaTreeException e) {
                assertEquals(ThetaTreeException.INPUT_VALUE, e.code());
            }
        }
        assertTrue(offPath >= 0, "row 6 reads every feature");
        byte[] x = clean[1].clone();
        x[ROOT] = 2;
        ThetaTreeException e = assertThrows(ThetaTreeException.class, () -> oracle.predict(x, 1));
        assertEquals(ROOT, e.column(), "feature 52 is the root split");
    }

    @AfterAll
    static void tearDown() {
        oracle.close();
    }

    /**
     * Rows: 0 valid, 1 bad value at the root, 2 valid, 3 wrong length (116 values), 4 null, 5
     * valid, 6 a bad value off its path (valid: the walk never reads it), 7 bad at the root, 8-9
     * valid. NAMED has no null or short rows; its rows 3 and 4 are valid.
     */
    private static List<byte[]> cases(Form form) {
        List<byte[]> rows = new ArrayList<>();
        for (int r = 0; r < 10; r++) {
            byte[] x = clean[r].clone();
            if (r == 1 || r == 7) {
                x[ROOT] = BAD;
            }
            if (r == 6) {
                x[offPath] = BAD;
            }
            if (form != Form.NAMED && r == 3) {
                x = Arrays.copyOf(x, x.length - 1);
            }
            rows.add(form != Form.NAMED && r == 4 ? null : x);
        }
        return rows;
    }

    private static boolean valid(Form form, int r) {
        return !(r == 1 || r == 7 || (form != Form.NAMED && (r == 3 || r == 4)));
    }

    /** One partition, rows in order: column row, then f (or one int column per feature). */
    private static Dataset<Row> frame(Form form, List<byte[]> rows) {
        List<StructField> fields = new ArrayList<>();
        fields.add(DataTypes.createStructField("row", DataTypes.IntegerType, false));
        if (form == Form.NAMED) {
            for (String n : names) {
                fields.add(DataTypes.createStructField(n, DataTypes.IntegerType, true));
            }
        } else {
            fields.add(DataTypes.createStructField("f", form.type, true));
        }
        List<Row> data = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            byte[] x = rows.get(r);
            Object[] v = new Object[fields.size()];
            v[0] = r;
            if (form == Form.NAMED) {
                for (int j = 0; j < x.length; j++) {
                    v[1 + j] = x[j] == BAD ? Integer.valueOf(7) : x[j] == -1 ? null : (int) x[j];
                }
            } else {
                v[1] = x == null ? null : form.encode(x);
            }
            data.add(RowFactory.create(v));
        }
        StructType schema = DataTypes.createStructType(fields);
        return SparkTestSession.get().createDataFrame(data, schema).coalesce(1);
    }

    private static ThetaTreeModel configured(Form form, String mode, int batch) {
        ThetaTreeModel m = model.copy(new org.apache.spark.ml.param.ParamMap())
                .setHandleInvalid(mode).setBatchSize(batch);
        return form == Form.NAMED ? m.setInputCols(model.getFeatureNames()) : m.setFeaturesCol("f");
    }

    static Stream<Form> forms() {
        return Stream.of(Form.values());
    }

    /** Forms with a single features column, which can be null or of the wrong length. */
    static Stream<Form> singleColumnForms() {
        return forms().filter(f -> f != Form.NAMED);
    }

    /** Forms where missing is a null element or column, or NaN (-1 in the byte forms). */
    static Stream<Form> nullableCellForms() {
        return forms().filter(f -> f != Form.BIN && f != Form.I8);
    }

    @ParameterizedTest
    @MethodSource("forms")
    void errorNamesTheRowFeatureAndValue(Form form) {
        List<byte[]> rows = cases(form).subList(0, 3); // row 1: bad value at the root
        ThetaTreeException e = failure(configured(form, "error", 4096).transform(frame(form, rows)));
        assertEquals(ThetaTreeException.INPUT_VALUE, e.code(), e.getMessage());
        assertEquals(1, e.row(), e.getMessage());
        assertEquals(ROOT, e.column(), e.getMessage());
        String msg = e.getMessage();
        assertTrue(msg.contains("row 1 of partition 0"), msg);
        assertTrue(msg.contains("feature '" + names.get(ROOT) + "' (index " + ROOT), msg);
        assertTrue(msg.contains(") is " + form.badText + ";"), msg);
        assertTrue(msg.contains("handleInvalid"), msg);
        assertTrue(msg.contains(form == Form.NAMED ? "column '" + names.get(ROOT) + "'"
                : "features column 'f'"), msg);
    }

    @ParameterizedTest
    @MethodSource("singleColumnForms")
    void errorOnNullOrWrongLengthFeatures(Form form) {
        List<byte[]> all = cases(form);
        ThetaTreeException shortRow = failure(configured(form, "error", 4096)
                .transform(frame(form, List.of(all.get(0), all.get(3)))));
        assertEquals(ThetaTreeException.SHAPE, shortRow.code());
        assertTrue(shortRow.getMessage().contains("row 1 of partition 0: features column 'f' has "
                + "116 values; the model has 117 features"), shortRow.getMessage());
        ThetaTreeException nullRow = failure(configured(form, "error", 4096)
                .transform(frame(form, Arrays.asList(all.get(0), all.get(2), all.get(4)))));
        assertEquals(ThetaTreeException.SHAPE, nullRow.code());
        assertTrue(nullRow.getMessage().contains("row 2 of partition 0: features column 'f' is "
                + "null"), nullRow.getMessage());
    }

    @ParameterizedTest
    @MethodSource("forms")
    void skipDropsInvalidRows(Form form) {
        for (int batch : new int[] {4096, 1, 2, 3}) {
            List<Row> out = configured(form, "skip", batch).transform(frame(form, cases(form)))
                    .collectAsList();
            List<Integer> kept = new ArrayList<>();
            for (Row row : out) {
                kept.add(row.getInt(0));
                checkScored(row, cases(form).get(row.getInt(0)), "skip, batch " + batch);
            }
            List<Integer> expected = new ArrayList<>();
            for (int r = 0; r < 10; r++) {
                if (valid(form, r)) {
                    expected.add(r);
                }
            }
            assertEquals(expected, kept, "rows kept by skip, batch " + batch);
        }
    }

    @ParameterizedTest
    @MethodSource("forms")
    void keepGivesNullOutputs(Form form) {
        for (int batch : new int[] {4096, 1, 2, 3}) {
            Dataset<Row> scored = configured(form, "keep", batch).transform(frame(form, cases(form)));
            assertTrue(scored.schema().apply("prediction").nullable());
            assertTrue(scored.schema().apply("probability").nullable());
            List<Row> out = scored.collectAsList();
            assertEquals(10, out.size(), "keep keeps every row");
            for (int r = 0; r < 10; r++) {
                Row row = out.get(r);
                assertEquals(r, row.getInt(0), "order");
                if (valid(form, r)) {
                    checkScored(row, cases(form).get(r), "keep, batch " + batch);
                } else {
                    assertTrue(row.isNullAt(row.fieldIndex("prediction")), "row " + r);
                    assertTrue(row.isNullAt(row.fieldIndex("probability")), "row " + r);
                }
            }
        }
    }

    @Test
    void errorModeOutputsAreNotNullable() {
        StructType s = configured(Form.I8, "error", 4096).transformSchema(
                frame(Form.I8, List.of(clean[0])).schema());
        assertFalse(s.apply("prediction").nullable());
        assertFalse(s.apply("probability").nullable());
    }

    /** A valid row's outputs equal the Java binding's on its cells (a bad off-path cell as 2). */
    private static void checkScored(Row row, byte[] cells, String what) {
        int r = row.getInt(0);
        byte[] x = cells.clone();
        for (int j = 0; j < x.length; j++) {
            x[j] = x[j] == BAD ? 2 : x[j];
        }
        double[] p = oracle.predictProba(x, 1);
        int label = oracle.predict(x, 1)[0];
        Object pred = row.get(row.fieldIndex("prediction"));
        assertNotNull(pred, what + ": row " + r + " has no prediction");
        assertEquals((double) label, (Double) pred, what + ": row " + r);
        Vector v = (Vector) row.get(row.fieldIndex("probability"));
        assertBits(p[0], v.apply(0), what + ": row " + r + " p0");
        assertBits(p[1], v.apply(1), what + ": row " + r + " p1");
    }

    /** The ThetaTreeException that made the job fail. */
    static ThetaTreeException failure(Dataset<Row> df) {
        Exception e = assertThrows(Exception.class, df::collectAsList);
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ThetaTreeException tt) {
                return tt;
            }
        }
        fail("no ThetaTreeException in the failure", e);
        return null;
    }

    @ParameterizedTest
    @MethodSource("nullableCellForms")
    void nullOrNanCellsAreMissing(Form form) {
        byte[] missing = new byte[names.size()];
        Arrays.fill(missing, (byte) -1); // null in i32 / f64 / named, NaN in vectors
        double[] asMissing = oracle.predictProba(missing, 1);
        double[] asZero = oracle.predictProba(new byte[names.size()], 1);
        assertFalse(Arrays.equals(asMissing, asZero), "precondition: an all-missing row and an "
                + "all-zero row reach different leaves");
        Row row = configured(form, "error", 4096).transform(frame(form, List.of(missing)))
                .collectAsList().get(0);
        checkScored(row, missing, form + ": all cells missing");
    }
}
