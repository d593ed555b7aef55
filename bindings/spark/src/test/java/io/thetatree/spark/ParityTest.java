package io.thetatree.spark;

import static io.thetatree.spark.ReferenceData.assertBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.thetatree.spark.ReferenceData.Golden;
import io.thetatree.spark.ReferenceData.Input;
import io.thetatree.spark.ReferenceData.RefModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Bit-exact parity with the reference golden outputs for every model in tests/reference_models.tsv,
 * on the clean and the missing-value inputs, through every input form at once: array&lt;tinyint&gt;,
 * array&lt;int&gt;, array&lt;double&gt;, binary, dense and sparse Vectors and one column per
 * feature. The seven transforms are chained on one DataFrame (so seven scorers run in one task),
 * in three partitions, with batch sizes from 1 row to the default.
 */
class ParityTest {
    private static final Map<String, Integer> BATCH = Map.of("i8", 4096, "i32", 1000, "f64", 333,
            "bin", 4096, "dense", 1, "sparse", 777, "named", 50);
    private static final AtomicLong ROWS_CHECKED = new AtomicLong();

    @TestFactory
    Stream<DynamicTest> everyReferenceModelAndInputForm() {
        List<DynamicTest> tests = new ArrayList<>();
        for (RefModel m : ReferenceData.models()) {
            for (boolean missing : new boolean[] {false, true}) {
                tests.add(DynamicTest.dynamicTest(m.name() + (missing ? " X_missing" : " X"),
                        () -> parity(m, missing)));
            }
        }
        return tests.stream();
    }

    @AfterAll
    static void summary() {
        System.out.println("spark parity: " + ROWS_CHECKED.get() + " rows checked bit for bit");
    }

    private static void parity(RefModel ref, boolean missing) {
        Input in = ReferenceData.input(ref.dataset(), missing);
        Golden g = ReferenceData.golden(ref.name(), missing);
        assertArrayEquals(in.rowIds(), g.rowIds(), g.file() + " vs " + in.file() + ": row ids");
        if (missing) {
            assertTrue(in.missingCells() > 0, in.file() + " has no missing cells");
        }
        ThetaTreeModel base = ThetaTreeModel.fromFile(ref.ttm().toString());
        assertEquals(in.featureNames(), List.of(base.getFeatureNames()), "feature order");

        Dataset<Row> df = Frames.of(in, 3);
        List<String> forms = new ArrayList<>(Frames.FEATURE_COLUMNS);
        for (String form : Frames.FEATURE_COLUMNS) {
            df = outputsFor(base, form).setFeaturesCol(form).transform(df);
        }
        df = outputsFor(base, "named").setInputCols(base.getFeatureNames()).transform(df);
        forms.add("named");

        List<Column> cols = new ArrayList<>();
        cols.add(functions.col("row"));
        for (String form : forms) {
            cols.add(functions.col("pred_" + form));
            cols.add(functions.col("prob_" + form));
        }
        List<Row> out = df.select(cols.toArray(new Column[0])).collectAsList();
        assertEquals(in.nRows(), out.size(), "row count");

        Map<Integer, Integer> golden = new HashMap<>();
        for (int r = 0; r < g.rowIds().length; r++) {
            golden.put(g.rowIds()[r], r);
        }
        for (Row row : out) {
            Integer r = golden.get(row.getInt(0));
            assertNotNull(r, "unknown row id " + row.getInt(0));
            for (int f = 0; f < forms.size(); f++) {
                String what = g.file() + " " + forms.get(f) + " row " + row.getInt(0);
                double pred = row.getDouble(1 + 2 * f);
                Vector p = (Vector) row.get(2 + 2 * f);
                assertEquals(g.pred()[r], pred, what + " prediction");
                assertEquals(2, p.size(), what + " probability size");
                if (g.p0()[r] != null) {
                    assertBits(g.p0()[r], p.apply(0), what + " p0");
                    assertBits(g.p1()[r], p.apply(1), what + " p1");
                }
            }
        }
        ROWS_CHECKED.addAndGet((long) out.size() * forms.size());
    }

    private static ThetaTreeModel outputsFor(ThetaTreeModel base, String form) {
        return base.copy(ParamMap.empty()).setPredictionCol("pred_" + form)
                .setProbabilityCol("prob_" + form).setBatchSize(BATCH.get(form));
    }
}
