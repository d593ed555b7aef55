package io.thetatree;

import static io.thetatree.TestData.assertBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.thetatree.TestData.Input;
import io.thetatree.TestData.RefModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * golden/edge_values__MODEL.csv: rows whose root-split cell was replaced by an edge value, with
 * the reference traversal's output. The library's contract (thetatree.h): double 0.0, -0.0 and
 * 1.0 are values, NaN is missing; int8 0 and 1 are values and -1 is missing; anything else is
 * TT_ERR_INPUT_VALUE naming row and column. So accepted values must reproduce the reference
 * traversal bit for bit (int8 -1 = the reference's NaN row), and every other value must fail.
 */
class EdgeValuesTest {

    record Edge(int row, int column, String value, int pred, double p0, double p1) {}

    @TestFactory
    Stream<DynamicTest> edgeValueFiles() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        // By plain name: a file may be stored as edge_values__M.csv or edge_values__M.csv.gz.
        try (Stream<Path> files = Files.list(TestData.referenceDir().resolve("golden"))) {
            files.map(p -> p.getFileName().toString().replaceFirst("\\.gz$", ""))
                    .filter(n -> n.startsWith("edge_values__") && n.endsWith(".csv"))
                    .sorted()
                    .forEach(n -> tests.add(DynamicTest.dynamicTest(n, () -> check(n))));
        }
        assertTrue(!tests.isEmpty(), "no golden/edge_values__*.csv files");
        return tests.stream();
    }

    private static void check(String name) {
        RefModel ref = TestData.model(name.substring("edge_values__".length(), name.length() - 4));
        Input in = TestData.input(ref.dataset(), false);
        List<String> lines = ReferenceData.readLines("golden/" + name);
        assertEquals("row,modified_feature_idx,value,public_predict,traverser_pred,traverser_p0,"
                + "traverser_p1,leaf_preorder", lines.get(0));
        List<Edge> edges = new ArrayList<>();
        Map<Integer, Edge> nanByRow = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",", -1);
            Edge e = new Edge(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2],
                    Integer.parseInt(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]));
            edges.add(e);
            if (e.value().equals("nan")) {
                nanByRow.put(e.row(), e);
            }
        }
        int accepted = 0;
        int rejected = 0;
        try (Model m = Model.load(ref.ttm())) {
            for (Edge e : edges) {
                int rowIndex = indexOfRowId(in, e.row());
                String what = name + " row " + e.row() + " value " + e.value();
                if (e.value().startsWith("int64(")) {
                    long v = Long.parseLong(e.value().substring(6, e.value().length() - 1));
                    byte[] x = in.bytesRow(rowIndex);
                    x[e.column()] = (byte) v;
                    assertEquals(v, x[e.column()], "int8 representable");
                    if (v == -1) {
                        // The library's int8 missing marker: same as the reference's NaN row.
                        Edge nan = nanByRow.get(e.row());
                        assertExpected(m, x, nan, what + " (int8 -1 = missing)");
                        accepted++;
                    } else {
                        assertInputValueError(() -> m.predict(x, 1), e, what);
                        rejected++;
                    }
                    continue;
                }
                double v = e.value().equals("nan") ? Double.NaN : Double.parseDouble(e.value());
                double[] xd = in.doublesRow(rowIndex);
                xd[e.column()] = v;
                boolean valid = Double.isNaN(v) || v == 0.0 || v == 1.0; // 0.0 == -0.0
                if (valid) {
                    int[] l = m.predict(xd, 1);
                    double[] p = m.predictProba(xd, 1);
                    assertEquals(e.pred(), l[0], what + " label");
                    assertBits(e.p0(), p[0], what + " p0");
                    assertBits(e.p1(), p[1], what + " p1");
                    if (!Double.isNaN(v)) {
                        byte[] xb = in.bytesRow(rowIndex);
                        xb[e.column()] = (byte) v;
                        assertExpected(m, xb, e, what + " (int8)");
                    }
                    accepted++;
                } else {
                    assertInputValueError(() -> m.predict(xd, 1), e, what);
                    assertInputValueError(() -> m.predictProba(xd, 1), e, what);
                    if (v == Math.rint(v) && v >= -128 && v <= 127 && v != -1.0) {
                        byte[] xb = in.bytesRow(rowIndex);
                        xb[e.column()] = (byte) v;
                        assertInputValueError(() -> m.predict(xb, 1), e, what + " (int8)");
                    }
                    rejected++;
                }
            }
        }
        assertTrue(accepted > 0 && rejected > 0, name + ": accepted " + accepted + ", rejected "
                + rejected);
    }

    private static void assertExpected(Model m, byte[] x, Edge e, String what) {
        assertEquals(e.pred(), m.predict(x, 1)[0], what + " label");
        double[] p = m.predictProba(x, 1);
        assertBits(e.p0(), p[0], what + " p0");
        assertBits(e.p1(), p[1], what + " p1");
    }

    private static void assertInputValueError(
            org.junit.jupiter.api.function.Executable call, Edge e, String what) {
        ThetaTreeException ex = assertThrows(ThetaTreeException.class, call, what);
        assertEquals(ThetaTreeException.INPUT_VALUE, ex.code(), what + ": " + ex.getMessage());
        assertEquals(0, ex.row(), what);
        assertEquals(e.column(), ex.column(), what);
    }

    private static int indexOfRowId(Input in, int rowId) {
        String id = Integer.toString(rowId);
        for (int i = 0; i < in.nRows; i++) {
            if (in.rowIds[i].equals(id)) {
                return i;
            }
        }
        throw new AssertionError("row id " + rowId + " not in " + in.file);
    }
}
