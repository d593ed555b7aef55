package io.thetatree.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.thetatree.Model;
import io.thetatree.spark.ReferenceData.Golden;
import io.thetatree.spark.ReferenceData.Input;
import io.thetatree.spark.ReferenceData.RefModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.ml.attribute.Attribute;
import org.apache.spark.ml.attribute.NominalAttribute;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code leafCol}: the reached leaf's pre-order node index equals the golden files' {@code
 * leaf_preorder} on every row of every reference model (clean and missing inputs, several input
 * forms and batch sizes, with and without the other outputs); its schema and metadata; it is off
 * by default; alone it still scores; invalid rows; persistence.
 */
class LeafColTest {
    private static final String MUSHROOM = "mushroom_gini_d5_lgk12";

    @TempDir Path tmp;

    @TestFactory
    Stream<DynamicTest> leafColIsLeafPreorderOnEveryGoldenRow() {
        List<DynamicTest> tests = new ArrayList<>();
        for (RefModel m : ReferenceData.models()) {
            for (boolean missing : new boolean[] {false, true}) {
                tests.add(DynamicTest.dynamicTest(m.name() + (missing ? " X_missing" : " X"),
                        () -> golden(m, missing)));
            }
        }
        return tests.stream();
    }

    private static void golden(RefModel ref, boolean missing) {
        Input in = ReferenceData.input(ref.dataset(), missing);
        Golden g = ReferenceData.golden(ref.name(), missing);
        ThetaTreeModel base = ThetaTreeModel.fromFile(ref.ttm().toString());
        Dataset<Row> df = Frames.of(in, 3);
        // i8 with every output; the other forms with the leaf alone, at other batch sizes.
        df = base.copy(ParamMap.empty()).setFeaturesCol("i8").setPredictionCol("pred")
                .setProbabilityCol("prob").setLeafCol("leaf_i8").transform(df);
        String[] forms = {"f64", "bin", "sparse"};
        int[] batch = {333, 1, 4096};
        for (int k = 0; k < forms.length; k++) {
            df = leafOnly(base, "leaf_" + forms[k]).setFeaturesCol(forms[k])
                    .setBatchSize(batch[k]).transform(df);
        }
        df = leafOnly(base, "leaf_named").setInputCols(base.getFeatureNames()).setBatchSize(50)
                .transform(df);
        List<Row> out = df.select(functions.col("row"), functions.col("pred"),
                functions.col("leaf_i8"), functions.col("leaf_f64"), functions.col("leaf_bin"),
                functions.col("leaf_sparse"), functions.col("leaf_named")).collectAsList();
        assertEquals(in.nRows(), out.size(), "row count");
        Map<Integer, Integer> index = new HashMap<>();
        for (int r = 0; r < g.rowIds().length; r++) {
            index.put(g.rowIds()[r], r);
        }
        for (Row row : out) {
            Integer r = index.get(row.getInt(0));
            assertNotNull(r, "unknown row id " + row.getInt(0));
            String what = g.file() + " row " + row.getInt(0);
            assertEquals(g.pred()[r], row.getDouble(1), what + " prediction");
            for (int c = 2; c < 7; c++) {
                assertEquals((double) g.leafPreorder()[r], row.getDouble(c),
                        what + " " + out.get(0).schema().fieldNames()[c]);
            }
        }
    }

    private static ThetaTreeModel leafOnly(ThetaTreeModel base, String leafCol) {
        return base.copy(ParamMap.empty()).setPredictionCol("").setProbabilityCol("")
                .setLeafCol(leafCol);
    }

    private static ThetaTreeModel mushroom() {
        return ThetaTreeModel.fromFile(ReferenceData.model(MUSHROOM).ttm().toString());
    }

    private static StructType binarySchema() {
        return new StructType().add("id", DataTypes.LongType).add("features", DataTypes.BinaryType);
    }

    @Test
    void offByDefault() {
        ThetaTreeModel m = mushroom();
        assertEquals("", m.getLeafCol());
        assertTrue(m.hasDefault(m.leafCol()));
        assertFalse(m.isSet(m.leafCol()));
        assertArrayEquals(new String[] {"id", "features", "prediction", "probability"},
                m.transformSchema(binarySchema()).fieldNames());
        assertTrue(m.explainParams().contains("leafCol"), m.explainParams());
    }

    @Test
    void schemaDeclaresADoubleWithNominalMetadata() {
        ThetaTreeModel m = mushroom().setLeafCol("leaf");
        StructType schema = m.transformSchema(binarySchema());
        assertArrayEquals(new String[] {"id", "features", "prediction", "probability", "leaf"},
                schema.fieldNames());
        StructField f = schema.apply("leaf");
        assertEquals(DataTypes.DoubleType, f.dataType());
        assertFalse(f.nullable(), "no nulls unless handleInvalid is keep");
        Attribute a = Attribute.fromStructField(f);
        assertTrue(a instanceof NominalAttribute, a.toString());
        assertEquals(m.numNodes(), ((NominalAttribute) a).getNumValues().get(),
                "one nominal value per node index");
        assertEquals("leaf", a.name().get());
        assertTrue(m.copy(ParamMap.empty()).setHandleInvalid("keep")
                .transformSchema(binarySchema()).apply("leaf").nullable());

        // transform() keeps what transformSchema declares, metadata included.
        Input in = ReferenceData.input("mushroom", false);
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < 20; r++) {
            rows.add(org.apache.spark.sql.RowFactory.create((long) r, in.cells()[r]));
        }
        Dataset<Row> df = SparkTestSession.get().createDataFrame(rows, binarySchema());
        StructType actual = m.transform(df).schema();
        assertEquals(schema, actual);
        assertEquals(f.metadata(), actual.apply("leaf").metadata());

        String msg = assertThrows(IllegalArgumentException.class,
                () -> mushroom().setLeafCol("prediction").transformSchema(binarySchema()))
                .getMessage();
        assertTrue(msg.contains("output column 'prediction' (leafCol) already exists"), msg);
        msg = assertThrows(IllegalArgumentException.class,
                () -> mushroom().setLeafCol("id").transformSchema(binarySchema())).getMessage();
        assertTrue(msg.contains("output column 'id' (leafCol) already exists"), msg);
    }

    @Test
    void aloneItStillScores() {
        Input in = ReferenceData.input("mushroom", true);
        Golden g = ReferenceData.golden(MUSHROOM, true);
        ThetaTreeModel m = leafOnly(mushroom(), "leaf").setFeaturesCol("i8");
        Dataset<Row> scored = m.transform(Frames.of(in, 2).select("row", "i8"));
        assertArrayEquals(new String[] {"row", "i8", "leaf"}, scored.schema().fieldNames());
        List<Row> out = scored.select("row", "leaf").collectAsList();
        assertEquals(in.nRows(), out.size());
        Map<Integer, Integer> index = new HashMap<>();
        for (int r = 0; r < g.rowIds().length; r++) {
            index.put(g.rowIds()[r], r);
        }
        for (Row row : out) {
            assertEquals((double) g.leafPreorder()[index.get(row.getInt(0))], row.getDouble(1),
                    "row " + row.getInt(0));
        }
        // Every value is a leaf's node index.
        try (Model native_ = Model.load(ReferenceData.model(MUSHROOM).ttm())) {
            for (Row row : out) {
                assertTrue(native_.node((int) row.getDouble(1)).isLeaf(), "row " + row.getInt(0));
            }
        }
    }

    @Test
    void invalidRowsKeepNullLeavesOrAreSkipped() {
        ThetaTreeModel base = mushroom();
        Input in = ReferenceData.input("mushroom", false);
        Golden g = ReferenceData.golden(MUSHROOM, false);
        int root;
        try (Model native_ = Model.load(ReferenceData.model(MUSHROOM).ttm())) {
            root = native_.node(0).feature();
        }
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < 10; r++) {
            byte[] cells = in.cells()[r].clone();
            if (r % 3 == 1) {
                cells[root] = 7; // read by every row's walk
            }
            rows.add(org.apache.spark.sql.RowFactory.create((long) r, cells));
        }
        Dataset<Row> df = SparkTestSession.get().createDataFrame(rows, binarySchema());
        List<Row> kept = leafOnly(base, "leaf").setHandleInvalid("keep").transform(df)
                .orderBy("id").collectAsList();
        assertEquals(10, kept.size());
        for (Row row : kept) {
            int r = (int) row.getLong(0);
            if (r % 3 == 1) {
                assertTrue(row.isNullAt(2), "row " + r);
            } else {
                assertEquals((double) g.leafPreorder()[r], row.getDouble(2), "row " + r);
            }
        }
        List<Row> skipped = leafOnly(base, "leaf").setHandleInvalid("skip").transform(df)
                .collectAsList();
        assertEquals(7, skipped.size());
        Exception e = assertThrows(Exception.class,
                () -> leafOnly(base, "leaf").transform(df).collectAsList());
        Throwable t = e;
        while (t.getCause() != null && !(t instanceof io.thetatree.ThetaTreeException)) {
            t = t.getCause();
        }
        assertTrue(String.valueOf(t.getMessage()).contains("(index " + root + ","),
                String.valueOf(t));
    }

    @Test
    void savedAndLoaded() throws Exception {
        String dir = tmp.resolve("stage").toString();
        mushroom().setLeafCol("leaf").setPredictionCol("").write().save(dir);
        ThetaTreeModel back = ThetaTreeModel.load(dir);
        assertEquals("leaf", back.getLeafCol());
        assertEquals("", back.getPredictionCol());
        assertArrayEquals(new String[] {"id", "features", "probability", "leaf"},
                back.transformSchema(binarySchema()).fieldNames());
    }
}
