package io.thetatree;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.thetatree.TestData.Input;
import io.thetatree.TestData.RefModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every failure path: load errors, shapes and lengths, bad values, buffers, lookups, close. */
class ErrorPathTest {
    static RefModel ref;
    static Model model;
    static Input input;
    static int nf;

    @TempDir Path tmp;

    @BeforeAll
    static void open() {
        ref = TestData.models().get(0);
        model = Model.load(ref.ttm());
        input = TestData.input(ref.dataset(), false);
        nf = model.nFeatures();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static ThetaTreeException expect(int code, Executable e) {
        ThetaTreeException ex = assertThrows(ThetaTreeException.class, e);
        assertEquals(ThetaTreeException.codeName(code), ex.codeName(), ex.getMessage());
        assertEquals(code, ex.code(), ex.getMessage());
        assertEquals(Native.statusName(code), ex.codeName());
        assertFalse(ex.detail().isEmpty(), "error without a message");
        assertTrue(ex.getMessage().startsWith(ex.codeName() + ": "), ex.getMessage());
        return ex;
    }

    private byte[] modelBytes() throws Exception {
        return Files.readAllBytes(ref.ttm());
    }

    /** Expects `code` from every load path (mmap, copy, bytes) of a file holding `bytes`. */
    private ThetaTreeException expectLoad(int code, byte[] bytes) throws Exception {
        Path f = Files.write(tmp.resolve("m" + System.nanoTime() + ".ttm"), bytes);
        ThetaTreeException a = expect(code, () -> Model.load(f));
        expect(code, () -> Model.load(f, LoadOption.COPY));
        expect(code, () -> Model.load(bytes));
        assertEquals(-1, a.row());
        assertEquals(-1, a.column());
        return a;
    }

    // ------------------------------------------------------------------ load

    @Test
    void missingFileIsIo() {
        Path p = tmp.resolve("does-not-exist.ttm");
        ThetaTreeException e = expect(ThetaTreeException.IO, () -> Model.load(p));
        assertTrue(e.detail().contains("does-not-exist.ttm"), e.detail());
        expect(ThetaTreeException.IO, () -> Model.load(p, LoadOption.COPY));
        expect(ThetaTreeException.IO, () -> Model.load(tmp)); // a directory
    }

    @Test
    void garbageIsBadMagic() throws Exception {
        byte[] junk = new byte[4096];
        new Random(1).nextBytes(junk);
        ThetaTreeException e = expectLoad(ThetaTreeException.BAD_MAGIC, junk);
        assertEquals(0, e.byteOffset());
    }

    @Test
    void truncatedIsTruncated() throws Exception {
        byte[] b = modelBytes();
        ThetaTreeException e = expectLoad(ThetaTreeException.TRUNCATED,
                Arrays.copyOf(b, b.length / 2));
        assertEquals(b.length / 2, e.byteOffset(), e.getMessage());
        expectLoad(ThetaTreeException.TRUNCATED, new byte[0]);
        expectLoad(ThetaTreeException.TRUNCATED, Arrays.copyOf(b, 16));
    }

    @Test
    void flippedByteIsChecksum() throws Exception {
        byte[] b = modelBytes();
        b[b.length / 2 + 3] ^= 0x40;
        expectLoad(ThetaTreeException.CHECKSUM, b);
    }

    @Test
    void trailingBytes() throws Exception {
        byte[] b = modelBytes();
        expectLoad(ThetaTreeException.TRAILING_BYTES, Arrays.copyOf(b, b.length + 8));
    }

    @Test
    void loadBytesSlice() throws Exception {
        byte[] b = modelBytes();
        byte[] padded = new byte[b.length + 11];
        System.arraycopy(b, 0, padded, 7, b.length);
        try (Model m = Model.load(padded, 7, b.length)) {
            assertArrayEquals(model.digest(), m.digest());
        }
        assertThrows(IndexOutOfBoundsException.class, () -> Model.load(padded, 7, padded.length));
        assertThrows(NullPointerException.class, () -> Model.load((byte[]) null));
        assertThrows(NullPointerException.class, () -> Model.load((Path) null));
    }

    // ------------------------------------------------------------------ signatures

    @Test
    void signatures() throws Exception {
        byte[] key = "java-binding-test-key".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] other = "some-other-key".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Path keyFile = Files.write(tmp.resolve("key"), key);
        Path signed = tmp.resolve("signed.ttm");
        TestData.run(List.of(TestData.cli().toString(), "sign", "--key-file", keyFile.toString(),
                ref.ttm().toString(), "-o", signed.toString()));

        try (Model m = Model.loadVerified(signed, key);
                Model c = Model.loadVerified(signed, key, LoadOption.COPY);
                Model b = Model.loadVerified(Files.readAllBytes(signed), key);
                Model plain = Model.load(signed)) {
            for (Model x : List.of(m, c, b, plain)) {
                assertTrue(x.isSigned());
                assertArrayEquals(model.digest(), x.digest(), "digest excludes the signature");
                assertArrayEquals(model.predict(input.bytes, input.nRows),
                        x.predict(input.bytes, input.nRows));
            }
        }
        assertFalse(model.isSigned());

        expect(ThetaTreeException.KEY_MISMATCH, () -> Model.loadVerified(signed, other));
        expect(ThetaTreeException.UNSIGNED, () -> Model.loadVerified(ref.ttm(), key));
        expect(ThetaTreeException.NO_KEY, () -> Model.loadVerified(signed, new byte[0]));
        byte[] tampered = Files.readAllBytes(signed);
        tampered[tampered.length / 3] ^= 1;
        Path t = Files.write(tmp.resolve("tampered.ttm"), tampered);
        expect(ThetaTreeException.BAD_SIGNATURE, () -> Model.loadVerified(t, key));
        expect(ThetaTreeException.BAD_SIGNATURE, () -> Model.loadVerified(tampered, key));
        assertThrows(NullPointerException.class, () -> Model.loadVerified(signed, null));
    }

    // ------------------------------------------------------------------ shapes and lengths

    @Test
    void wrongRowCountIsShape() {
        byte[] x = Arrays.copyOf(input.bytes, 3 * nf);
        // Not a multiple: detected by the binding.
        expect(ThetaTreeException.SHAPE, () -> model.predict(x, 2));
        expect(ThetaTreeException.SHAPE, () -> model.predictProba(x, 4));
        expect(ThetaTreeException.SHAPE, () -> model.predict(x, -1));
        expect(ThetaTreeException.SHAPE, () -> model.predict(x, 0));
        // A multiple, so the column count the library sees is wrong: reported by the library.
        byte[] x6 = Arrays.copyOf(input.bytes, 6 * nf);
        ThetaTreeException e = expect(ThetaTreeException.SHAPE, () -> model.predict(x6, 12));
        assertTrue(e.detail().contains(Integer.toString(nf)), e.detail());
        expect(ThetaTreeException.SHAPE, () -> model.predictProba(x6, 3));
        double[] d6 = Arrays.copyOf(input.doubles, 6 * nf);
        expect(ThetaTreeException.SHAPE, () -> model.predict(d6, 12));
        expect(ThetaTreeException.SHAPE, () -> model.predictProba(d6, 3));
        // Zero rows is fine.
        assertEquals(0, model.predict(new byte[0], 0).length);
        assertEquals(0, model.predictProba(new double[0], 0).length);
    }

    @Test
    void shortArraysAreLength() {
        byte[] x = Arrays.copyOf(input.bytes, 4 * nf);
        double[] xd = Arrays.copyOf(input.doubles, 4 * nf);
        // Output too short: reported by the library, nothing written.
        int[] out = ParityTest.filled(new int[3], -5);
        ThetaTreeException e = expect(ThetaTreeException.LENGTH,
                () -> model.predictInto(x, 0, 4, out, 0));
        assertArrayEquals(new int[] {-5, -5, -5}, out, "nothing written on a length error");
        expect(ThetaTreeException.LENGTH, () -> model.predictInto(x, 0, 4, new int[10], 7));
        expect(ThetaTreeException.LENGTH, () -> model.predictProbaInto(x, 0, 4, new double[7], 0));
        expect(ThetaTreeException.LENGTH, () -> model.predictProbaInto(xd, 0, 4, new double[9], 2));
        expect(ThetaTreeException.LENGTH, () -> model.predictInto(xd, 0, 4, new int[2], 0));
        assertTrue(e.detail().contains("3"), e.detail());
        // Input too short from its offset: detected by the binding (the C API takes no x length).
        expect(ThetaTreeException.LENGTH, () -> model.predictInto(x, 1, 4, new int[4], 0));
        expect(ThetaTreeException.LENGTH, () -> model.predictProbaInto(xd, 0, 5, new double[10], 0));
        expect(ThetaTreeException.SHAPE, () -> model.predictInto(x, 0, -1, new int[4], 0));
        assertThrows(IndexOutOfBoundsException.class,
                () -> model.predictInto(x, -1, 1, new int[4], 0));
        assertThrows(IndexOutOfBoundsException.class,
                () -> model.predictInto(x, 0, 1, new int[4], 5));
        assertThrows(NullPointerException.class, () -> model.predict((byte[]) null, 1));
    }

    // ------------------------------------------------------------------ bad input values

    @Test
    void badValueIsInputValueWithRowAndColumn() {
        int rows = 6;
        int r = 4;
        int c = columnReadBy(model, input.bytesRow(r));
        byte[] x = Arrays.copyOf(input.bytes, rows * nf);
        double[] d = Arrays.copyOf(input.doubles, rows * nf);
        List<Executable> calls = new ArrayList<>();
        for (byte bad : new byte[] {2, -2, 127, -128}) {
            byte[] xb = x.clone();
            xb[r * nf + c] = bad;
            calls.add(() -> model.predict(xb, rows));
            calls.add(() -> model.predictProba(xb, rows));
            calls.add(() -> model.predictInto(xb, 0, rows, new int[rows], 0));
            ByteBuffer buf = ByteBuffer.allocateDirect(xb.length).put(xb).flip();
            calls.add(() -> model.predictInto(buf, rows, directInts(rows)));
            calls.add(() -> model.predictProbaInto(buf, CellType.INT8, rows,
                    ByteBuffer.allocateDirect(16 * rows).order(ByteOrder.LITTLE_ENDIAN)));
        }
        for (double bad : new double[] {2.0, 0.5, -1.0, 1e-300, Double.POSITIVE_INFINITY,
                Double.MIN_VALUE}) {
            double[] xd = d.clone();
            xd[r * nf + c] = bad;
            calls.add(() -> model.predict(xd, rows));
            calls.add(() -> model.predictProba(xd, rows));
            calls.add(() -> model.predictProbaInto(xd, 0, rows, new double[2 * rows], 0));
            DoubleBuffer buf = ByteBuffer.allocateDirect(8 * xd.length)
                    .order(ByteOrder.nativeOrder()).asDoubleBuffer().put(xd).flip();
            calls.add(() -> model.predictProbaInto(buf, rows, directDoubles(2 * rows)));
        }
        for (Executable call : calls) {
            ThetaTreeException e = expect(ThetaTreeException.INPUT_VALUE, call);
            assertEquals(r, e.row(), e.getMessage());
            assertEquals(c, e.column(), e.getMessage());
        }
    }

    /**
     * A bad value in a batch large enough to be cut into several critical regions by the shim:
     * row numbers (field and message) must still count from the start of the batch.
     */
    @Test
    void badValueRowIsRelativeToTheWholeBatch() {
        RefModel du = TestData.models().stream()
                .filter(m -> TestData.input(m.dataset(), false).nRows * TestData.input(
                        m.dataset(), false).nCols > (1 << 20))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no reference input large enough to chunk"));
        Input big = TestData.input(du.dataset(), false);
        try (Model m = Model.load(du.ttm())) {
            int n = big.nRows;
            int cols = big.nCols;
            for (int r : new int[] {0, n / 2, n - 1}) {
                int root = columnReadBy(m, big.bytesRow(r));
                byte[] xb = big.bytes.clone();
                xb[r * cols + root] = 3;
                double[] xd = big.doubles.clone();
                xd[r * cols + root] = 0.25;
                for (Executable call : List.<Executable>of(
                        () -> m.predict(xb, n), () -> m.predictProba(xb, n),
                        () -> m.predict(xd, n), () -> m.predictProba(xd, n))) {
                    ThetaTreeException e = expect(ThetaTreeException.INPUT_VALUE, call);
                    assertEquals(r, e.row(), e.getMessage());
                    assertEquals(root, e.column(), e.getMessage());
                    assertTrue(e.detail().startsWith("row " + r + ","), e.detail());
                }
            }
        }
    }

    /** A column that the traversal of {@code row} reads (found by making each cell bad in turn). */
    static int columnReadBy(Model m, byte[] row) {
        for (int c = 0; c < row.length; c++) {
            byte[] x = row.clone();
            x[c] = 5;
            try {
                m.predict(x, 1);
            } catch (ThetaTreeException e) {
                assertEquals(ThetaTreeException.INPUT_VALUE, e.code(), e.getMessage());
                assertEquals(0, e.row(), e.getMessage());
                assertEquals(c, e.column(), "the error names the bad cell");
                return c;
            }
        }
        throw new AssertionError("no column is read?");
    }

    // ------------------------------------------------------------------ buffers

    static IntBuffer directInts(int n) {
        return ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asIntBuffer();
    }

    static DoubleBuffer directDoubles(int n) {
        return ByteBuffer.allocateDirect(8 * n).order(ByteOrder.nativeOrder()).asDoubleBuffer();
    }

    @Test
    void heapBuffersAreRejected() {
        int rows = 2;
        ByteBuffer heapX = ByteBuffer.wrap(Arrays.copyOf(input.bytes, rows * nf));
        ByteBuffer directX = ByteBuffer.allocateDirect(rows * nf).put(heapX.duplicate()).flip();
        IntBuffer heapOut = IntBuffer.allocate(rows);
        DoubleBuffer heapD = DoubleBuffer.allocate(rows * nf);
        List<Executable> calls = List.of(
                () -> model.predictInto(heapX, rows, directInts(rows)),
                () -> model.predictInto(directX, rows, heapOut),
                () -> model.predictProbaInto(directX, rows, DoubleBuffer.allocate(2 * rows)),
                () -> model.predictInto(heapD, rows, directInts(rows)),
                () -> model.predictInto(heapX, CellType.INT8, rows,
                        ByteBuffer.allocateDirect(4 * rows).order(ByteOrder.LITTLE_ENDIAN)),
                () -> model.predictProbaInto(directX, CellType.INT8, rows,
                        ByteBuffer.allocate(16 * rows).order(ByteOrder.LITTLE_ENDIAN)));
        for (Executable call : calls) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
            assertTrue(e.getMessage().contains("direct"), e.getMessage());
        }
    }

    @Test
    void readOnlyAndByteOrderAreRejected() {
        int rows = 2;
        ByteBuffer x = ByteBuffer.allocateDirect(rows * nf).put(input.bytes, 0, rows * nf).flip();
        IntBuffer ro = directInts(rows).asReadOnlyBuffer();
        assertThrows(IllegalArgumentException.class, () -> model.predictInto(x, rows, ro));
        IntBuffer bigEndian = ByteBuffer.allocateDirect(4 * rows).order(ByteOrder.BIG_ENDIAN)
                .asIntBuffer();
        assertThrows(IllegalArgumentException.class, () -> model.predictInto(x, rows, bigEndian));
        DoubleBuffer bigX = ByteBuffer.allocateDirect(8 * rows * nf).order(ByteOrder.BIG_ENDIAN)
                .asDoubleBuffer();
        assertThrows(IllegalArgumentException.class,
                () -> model.predictInto(bigX, rows, directInts(rows)));
        ByteBuffer rawBig = ByteBuffer.allocateDirect(8 * rows * nf); // default BIG_ENDIAN
        assertThrows(IllegalArgumentException.class,
                () -> model.predictInto(rawBig, CellType.FLOAT64, rows,
                        ByteBuffer.allocateDirect(4 * rows).order(ByteOrder.LITTLE_ENDIAN)));
        assertThrows(IllegalArgumentException.class,
                () -> model.predictInto(x, CellType.INT8, rows, ByteBuffer.allocateDirect(4 * rows)));
    }

    @Test
    void shortOrMisalignedBuffers() {
        int rows = 3;
        ByteBuffer x = ByteBuffer.allocateDirect(rows * nf).put(input.bytes, 0, rows * nf).flip();
        // Output too short: the library's LENGTH.
        expect(ThetaTreeException.LENGTH, () -> model.predictInto(x, rows, directInts(rows - 1)));
        expect(ThetaTreeException.LENGTH,
                () -> model.predictProbaInto(x, rows, directDoubles(2 * rows - 1)));
        // Input too short (limit before the end of the data): the binding's LENGTH.
        expect(ThetaTreeException.LENGTH,
                () -> model.predictInto(x.duplicate().limit(rows * nf - 1), rows, directInts(rows)));
        expect(ThetaTreeException.LENGTH,
                () -> model.predictInto(x.duplicate().position(1), rows, directInts(rows)));
        expect(ThetaTreeException.SHAPE, () -> model.predictInto(x, -2, directInts(rows)));

        // Views at an odd address: the library's ALIGNMENT, for input and output.
        ByteBuffer raw = ByteBuffer.allocateDirect(8 * rows * nf + 8);
        DoubleBuffer oddX = raw.position(1).slice().order(ByteOrder.nativeOrder()).asDoubleBuffer();
        DoubleBuffer dx = oddX.duplicate();
        for (int i = 0; i < rows * nf; i++) {
            dx.put(input.doubles[i]);
        }
        oddX.limit(rows * nf);
        expect(ThetaTreeException.ALIGNMENT, () -> model.predictInto(oddX, rows, directInts(rows)));
        IntBuffer oddOut = ByteBuffer.allocateDirect(4 * rows + 4).position(2).slice()
                .order(ByteOrder.nativeOrder()).asIntBuffer();
        expect(ThetaTreeException.ALIGNMENT, () -> model.predictInto(x, rows, oddOut));
        ByteBuffer oddRawOut = ByteBuffer.allocateDirect(16 * rows + 8).position(3).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
        expect(ThetaTreeException.ALIGNMENT,
                () -> model.predictProbaInto(x, CellType.INT8, rows, oddRawOut));
    }

    // ------------------------------------------------------------------ lookups

    @Test
    void lookupsThatFail() {
        assertTrue(model.featureIndex("no such feature").isEmpty());
        assertTrue(model.featureIndex("").isEmpty());
        String first = model.featureName(0);
        assertEquals(0, model.requireFeatureIndex(first));
        assertTrue(model.featureIndex(first + "\0tail").isEmpty(), "no prefix match through NUL");
        assertTrue(model.featureIndex(first + " ").isEmpty());
        ThetaTreeException e = expect(ThetaTreeException.NOT_FOUND,
                () -> model.requireFeatureIndex("no such feature"));
        assertTrue(e.detail().contains("no such feature"), e.detail());
        expect(ThetaTreeException.NOT_FOUND, () -> model.featureName(nf));
        expect(ThetaTreeException.NOT_FOUND, () -> model.featureName(Integer.MAX_VALUE));
        expect(ThetaTreeException.NOT_FOUND, () -> model.featureName(-1));
        assertThrows(NullPointerException.class, () -> model.featureIndex(null));
    }

    // ------------------------------------------------------------------ closed model

    @Test
    void closedModelThrowsIllegalState() {
        Model m = Model.load(ref.ttm());
        m.close();
        m.close(); // idempotent
        assertTrue(m.isClosed());
        assertTrue(m.handleForTest().isFreed());
        byte[] x = input.bytesRow(0);
        double[] xd = input.doublesRow(0);
        ByteBuffer bx = ByteBuffer.allocateDirect(nf).put(x).flip();
        List<Consumer<Model>> calls = List.of(
                Model::nFeatures, Model::nClasses, Model::nNodes, Model::nLeaves,
                Model::maxDepth, Model::featureNames, Model::classLabels, Model::version,
                Model::metadataJson, Model::crc32, Model::digest, Model::isSigned,
                mm -> mm.featureName(0), mm -> mm.featureName(-1),
                mm -> mm.featureIndex("x"), mm -> mm.featureIndex("a\0b"),
                mm -> mm.requireFeatureIndex("x"),
                mm -> mm.predict(x, 1), mm -> mm.predictProba(x, 1),
                mm -> mm.predict(xd, 1), mm -> mm.predictProba(xd, 1),
                mm -> mm.predict(x, 7), // a shape error is not reported on a closed model
                mm -> mm.predictInto(x, 0, 1, new int[1], 0),
                mm -> mm.predictProbaInto(x, 0, 1, new double[2], 0),
                mm -> mm.predictInto(xd, 0, 1, new int[1], 0),
                mm -> mm.predictProbaInto(xd, 0, 1, new double[2], 0),
                mm -> mm.predictInto(bx, 1, directInts(1)),
                mm -> mm.predictProbaInto(bx, 1, directDoubles(2)),
                mm -> mm.predictInto(bx, CellType.INT8, 1,
                        ByteBuffer.allocateDirect(4).order(ByteOrder.LITTLE_ENDIAN)));
        for (Consumer<Model> call : calls) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> call.accept(m));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
        // Metadata that was cached before close is not served after it either.
        Model m2 = Model.load(ref.ttm());
        m2.featureNames();
        m2.digest();
        m2.close();
        assertThrows(IllegalStateException.class, m2::featureNames);
        assertThrows(IllegalStateException.class, m2::digest);
        assertTrue(m2.toString().contains("closed"));
    }

    // ------------------------------------------------------------------ codes vs header

    @Test
    void codesMatchTheHeader() throws Exception {
        String h = Files.readString(TestData.repo().resolve("include/thetatree.h"));
        Matcher mm = Pattern.compile("#define TT_(OK|ERR_([A-Z_0-9]+)) (\\d+)").matcher(h);
        int count = 0;
        while (mm.find()) {
            String field = mm.group(2) == null ? "OK" : mm.group(2);
            int value = Integer.parseInt(mm.group(3));
            assertEquals(value, ThetaTreeException.class.getField(field).getInt(null),
                    "ThetaTreeException." + field);
            assertEquals("TT_" + mm.group(1), ThetaTreeException.codeName(value));
            assertEquals(Native.statusName(value), ThetaTreeException.codeName(value));
            count++;
        }
        int javaConstants = 0;
        for (var f : ThetaTreeException.class.getFields()) {
            if (f.getType() == int.class && java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                javaConstants++;
            }
        }
        assertEquals(count, javaConstants, "every TT_ERR_* has a constant and vice versa");
        assertTrue(count > 20);
        assertEquals(Native.statusName(count), ThetaTreeException.codeName(count), "unknown");
        assertEquals(Native.statusName(-1), ThetaTreeException.codeName(-1));

        assertEquals(defineValue(h, "TT_LOAD_DEFAULT"), Native.TT_LOAD_DEFAULT);
        assertEquals(defineValue(h, "TT_LOAD_COPY"), Native.TT_LOAD_COPY);
        assertEquals(defineValue(h, "TT_ABI_VERSION"), Native.EXPECTED_ABI_VERSION);
        assertEquals(defineValue(h, "TT_ABI_VERSION"), Model.abiVersion());
        assertEquals(defineValue(h, "TT_N_CLASSES"), model.nClasses());
        assertEquals(defineValue(h, "TT_DIGEST_LEN"), model.digest().length);
    }

    static int defineValue(String header, String name) {
        Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(header);
        assertTrue(m.find(), name + " not in the header");
        return Integer.parseInt(m.group(1));
    }
}
