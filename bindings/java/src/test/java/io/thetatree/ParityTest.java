package io.thetatree;

import static io.thetatree.TestData.assertBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.thetatree.TestData.Golden;
import io.thetatree.TestData.Input;
import io.thetatree.TestData.RefModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Bit-exact parity with the reference golden outputs, for every model in
 * tests/reference_models.tsv, on the clean and the missing-value inputs, through every input and
 * output path of the binding (byte[] / double[] arrays, offsets, direct ByteBuffer / IntBuffer /
 * DoubleBuffer views, raw little-endian ByteBuffers, single rows, every load mode).
 */
class ParityTest {

    @TestFactory
    Stream<DynamicTest> everyReferenceModel() {
        List<DynamicTest> tests = new ArrayList<>();
        for (RefModel m : TestData.models()) {
            for (boolean missing : new boolean[] {false, true}) {
                String name = m.name() + (missing ? " X_missing" : " X");
                tests.add(DynamicTest.dynamicTest(name, () -> parity(m, missing)));
            }
        }
        return tests.stream();
    }

    private static void parity(RefModel ref, boolean missing) throws Exception {
        Input in = TestData.input(ref.dataset(), missing);
        Golden g = TestData.golden(ref.name(), missing);
        assertEquals(in.nRows, g.rowIds.length, g.file + " vs " + in.file + ": row count");
        assertArrayEquals(in.rowIds, g.rowIds, g.file + " vs " + in.file + ": row ids");
        if (missing) {
            assertTrue(in.missingCells > 0, in.file + " has no missing cells");
        }

        try (Model model = Model.load(ref.ttm())) {
            assertEquals(in.featureNames, model.featureNames(), "feature order of " + in.file);
            int n = in.nRows;
            int nf = model.nFeatures();

            // Whole-batch arrays.
            check(g, model.predict(in.bytes, n), model.predictProba(in.bytes, n), "byte[]");
            check(g, model.predict(in.doubles, n), model.predictProba(in.doubles, n), "double[]");

            // Offsets into larger arrays; the surroundings stay untouched.
            int xo = 5;
            int oo = 3;
            byte[] xb = new byte[xo + n * nf + 4];
            Arrays.fill(xb, (byte) 7);
            System.arraycopy(in.bytes, 0, xb, xo, n * nf);
            double[] xd = new double[xo + n * nf + 4];
            Arrays.fill(xd, 7.0);
            System.arraycopy(in.doubles, 0, xd, xo, n * nf);
            int[] lab = filled(new int[oo + n + 2], -9);
            double[] pro = filled(new double[oo + 2 * n + 2], -9.0);
            model.predictInto(xb, xo, n, lab, oo);
            model.predictProbaInto(xb, xo, n, pro, oo);
            check(g, Arrays.copyOfRange(lab, oo, oo + n), Arrays.copyOfRange(pro, oo, oo + 2 * n),
                    "byte[] offsets");
            assertUntouched(lab, oo, n, pro, oo, 2 * n);
            lab = filled(new int[oo + n + 2], -9);
            pro = filled(new double[oo + 2 * n + 2], -9.0);
            model.predictInto(xd, xo, n, lab, oo);
            model.predictProbaInto(xd, xo, n, pro, oo);
            check(g, Arrays.copyOfRange(lab, oo, oo + n), Arrays.copyOfRange(pro, oo, oo + 2 * n),
                    "double[] offsets");
            assertUntouched(lab, oo, n, pro, oo, 2 * n);

            // Direct buffers: int8 ByteBuffer and native-order views.
            ByteBuffer xbDirect = ByteBuffer.allocateDirect(n * nf).put(in.bytes).flip();
            IntBuffer labBuf = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder())
                    .asIntBuffer();
            DoubleBuffer proBuf = ByteBuffer.allocateDirect(16 * n).order(ByteOrder.nativeOrder())
                    .asDoubleBuffer();
            model.predictInto(xbDirect, n, labBuf);
            model.predictProbaInto(xbDirect, n, proBuf);
            assertEquals(0, xbDirect.position(), "input position unchanged");
            assertEquals(0, labBuf.position(), "output position unchanged");
            check(g, toArray(labBuf), toArray(proBuf), "direct int8 ByteBuffer");

            DoubleBuffer xdDirect = ByteBuffer.allocateDirect(8 * n * nf)
                    .order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().put(in.doubles).flip();
            labBuf.clear();
            proBuf.clear();
            model.predictInto(xdDirect, n, labBuf);
            model.predictProbaInto(xdDirect, n, proBuf);
            check(g, toArray(labBuf), toArray(proBuf), "direct DoubleBuffer");

            // Raw little-endian ByteBuffers (doubles in, int32 / double bytes out).
            ByteBuffer rawX = ByteBuffer.allocateDirect(8 * n * nf).order(ByteOrder.LITTLE_ENDIAN);
            for (double v : in.doubles) {
                rawX.putDouble(v);
            }
            rawX.flip();
            ByteBuffer rawLab = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer rawPro = ByteBuffer.allocateDirect(16 * n).order(ByteOrder.LITTLE_ENDIAN);
            model.predictInto(rawX, CellType.FLOAT64, n, rawLab);
            model.predictProbaInto(rawX, CellType.FLOAT64, n, rawPro);
            int[] l = new int[n];
            double[] p = new double[2 * n];
            for (int i = 0; i < n; i++) {
                l[i] = rawLab.getInt(4 * i);
            }
            for (int i = 0; i < 2 * n; i++) {
                p[i] = rawPro.getDouble(8 * i);
            }
            check(g, l, p, "raw little-endian ByteBuffer (FLOAT64)");
            model.predictInto(xbDirect, CellType.INT8, n, rawLab);
            model.predictProbaInto(xbDirect, CellType.INT8, n, rawPro);
            for (int i = 0; i < n; i++) {
                l[i] = rawLab.getInt(4 * i);
            }
            for (int i = 0; i < 2 * n; i++) {
                p[i] = rawPro.getDouble(8 * i);
            }
            check(g, l, p, "raw ByteBuffer (INT8)");

            // Single rows, taken from the middle of the direct buffers by position.
            IntBuffer one = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).asIntBuffer();
            DoubleBuffer two = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder())
                    .asDoubleBuffer();
            int step = Math.max(1, n / 97);
            for (int r = 0; r < n; r += step) {
                String what = "single row " + r;
                int[] lr = model.predict(in.bytesRow(r), 1);
                double[] pr = model.predictProba(in.doublesRow(r), 1);
                xbDirect.position(r * nf);
                model.predictInto(xbDirect, 1, one);
                xdDirect.position(r * nf);
                model.predictProbaInto(xdDirect, 1, two);
                assertEquals(g.pred[r], lr[0], what + " label (byte[])");
                assertEquals(g.pred[r], one.get(0), what + " label (direct)");
                if (g.p0[r] != null) {
                    assertBits(g.p0[r], pr[0], what + " p0 (double[])");
                    assertBits(g.p1[r], pr[1], what + " p1 (double[])");
                    assertBits(g.p0[r], two.get(0), what + " p0 (direct)");
                    assertBits(g.p1[r], two.get(1), what + " p1 (direct)");
                }
            }
        }

        // Other load paths give the same model.
        byte[] file = Files.readAllBytes(ref.ttm());
        try (Model copy = Model.load(ref.ttm(), LoadOption.COPY);
                Model mem = Model.load(file)) {
            check(g, copy.predict(in.bytes, in.nRows), copy.predictProba(in.bytes, in.nRows),
                    "LoadOption.COPY");
            check(g, mem.predict(in.doubles, in.nRows), mem.predictProba(in.doubles, in.nRows),
                    "load(byte[])");
        }
    }

    /** Labels and probabilities against the golden file; empty golden p0/p1: label only. */
    static void check(Golden g, int[] labels, double[] proba, String path) {
        int n = g.pred.length;
        assertEquals(n, labels.length, path + ": label count");
        assertEquals(2 * n, proba.length, path + ": probability count");
        int compared = 0;
        for (int r = 0; r < n; r++) {
            if (labels[r] != g.pred[r]) {
                fail(g.file + " " + path + ": row " + r + " (id " + g.rowIds[r] + ", leaf "
                        + g.leafPreorder[r] + "): label " + labels[r] + ", expected " + g.pred[r]);
            }
            if (g.p0[r] != null) {
                assertBits(g.p0[r], proba[2 * r], g.file + " " + path + ": row " + r + " p0");
                assertBits(g.p1[r], proba[2 * r + 1], g.file + " " + path + ": row " + r + " p1");
                compared++;
            }
        }
        assertTrue(compared > 0, g.file + ": no row has golden probabilities");
    }

    private static void assertUntouched(int[] lab, int lo, int ln, double[] pro, int po, int pn) {
        for (int i = 0; i < lab.length; i++) {
            if (i < lo || i >= lo + ln) {
                assertEquals(-9, lab[i], "label array written outside its range at " + i);
            }
        }
        for (int i = 0; i < pro.length; i++) {
            if (i < po || i >= po + pn) {
                assertBits(-9.0, pro[i], "probability array written outside its range at " + i);
            }
        }
    }

    static int[] filled(int[] a, int v) {
        Arrays.fill(a, v);
        return a;
    }

    static double[] filled(double[] a, double v) {
        Arrays.fill(a, v);
        return a;
    }

    static int[] toArray(IntBuffer b) {
        int[] a = new int[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    static double[] toArray(DoubleBuffer b) {
        double[] a = new double[b.remaining()];
        b.duplicate().get(a);
        return a;
    }
}
