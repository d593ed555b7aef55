package io.thetatree;

import static io.thetatree.ErrorPathTest.columnReadBy;
import static io.thetatree.ErrorPathTest.expect;
import static io.thetatree.TestData.assertBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The explanation calls (predictLeaf, predictContrib, decisionPath, node) on every reference
 * model: the leaf is the golden files' {@code leaf_preorder} on every row (clean and missing
 * inputs, every input path), contributions add up to P(class 1) within 1e-12 and are zero off
 * the path, the path walks the tree the way the row's values say and ends at the leaf, nodes
 * agree with the reference JSON; then every hostile argument.
 */
class ExplainTest {
    private static final double TOLERANCE = 1e-12;

    @TempDir Path tmp;

    @TestFactory
    Stream<DynamicTest> goldenRowsOfEveryReferenceModel() {
        List<DynamicTest> tests = new ArrayList<>();
        for (RefModel m : TestData.models()) {
            for (boolean missing : new boolean[] {false, true}) {
                String name = m.name() + (missing ? " X_missing" : " X");
                tests.add(DynamicTest.dynamicTest(name, () -> golden(m, missing)));
            }
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> nodesAgreeWithTheReferenceJson() {
        return TestData.models().stream()
                .map(m -> DynamicTest.dynamicTest(m.name(), () -> nodesAgree(m)));
    }

    static Node[] nodes(Model m) {
        Node[] nodes = new Node[m.nNodes()];
        for (int i = 0; i < nodes.length; i++) {
            nodes[i] = m.node(i);
            assertEquals(i, nodes[i].index());
        }
        return nodes;
    }

    private static void golden(RefModel ref, boolean missing) {
        Input in = TestData.input(ref.dataset(), missing);
        Golden g = TestData.golden(ref.name(), missing);
        assertArrayEquals(in.rowIds, g.rowIds, g.file + " vs " + in.file + ": row ids");
        try (Model m = Model.load(ref.ttm())) {
            int n = in.nRows;
            int nf = m.nFeatures();
            int w = nf + 1;

            // Leaves through every input path.
            assertLeaves(g, m.predictLeaf(in.bytes, n), "byte[]");
            assertLeaves(g, m.predictLeaf(in.doubles, n), "double[]");
            int xo = 3;
            int oo = 2;
            byte[] xb = new byte[xo + n * nf + 1];
            System.arraycopy(in.bytes, 0, xb, xo, n * nf);
            double[] xd = new double[xo + n * nf + 1];
            System.arraycopy(in.doubles, 0, xd, xo, n * nf);
            int[] leaves = new int[oo + n + 1];
            Arrays.fill(leaves, -9);
            m.predictLeafInto(xb, xo, n, leaves, oo);
            assertLeaves(g, Arrays.copyOfRange(leaves, oo, oo + n), "byte[] offsets");
            assertEquals(-9, leaves[oo - 1]);
            assertEquals(-9, leaves[oo + n], "written past the rows");
            Arrays.fill(leaves, -9);
            m.predictLeafInto(xd, xo, n, leaves, oo);
            assertLeaves(g, Arrays.copyOfRange(leaves, oo, oo + n), "double[] offsets");
            ByteBuffer xbDirect = ByteBuffer.allocateDirect(n * nf).put(in.bytes).flip();
            DoubleBuffer xdDirect = ByteBuffer.allocateDirect(8 * n * nf)
                    .order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().put(in.doubles).flip();
            IntBuffer leafBuf = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.LITTLE_ENDIAN)
                    .asIntBuffer();
            m.predictLeafInto(xbDirect, n, leafBuf);
            assertEquals(0, leafBuf.position(), "position unchanged");
            assertLeaves(g, toArray(leafBuf), "direct int8 ByteBuffer");
            leafBuf.clear();
            m.predictLeafInto(xdDirect, n, leafBuf);
            assertLeaves(g, toArray(leafBuf), "direct DoubleBuffer");

            // Contributions: the same from every path, bit for bit.
            double[] contrib = m.predictContrib(in.bytes, n);
            assertEquals((long) n * w, contrib.length);
            assertArrayEquals(contrib, m.predictContrib(in.doubles, n), "double[] contributions");
            double[] co = new double[oo + n * w + 1];
            Arrays.fill(co, -9.0);
            m.predictContribInto(xb, xo, n, co, oo);
            assertArrayEquals(contrib, Arrays.copyOfRange(co, oo, oo + n * w), "byte[] offsets");
            assertEquals(-9.0, co[oo + n * w], "written past the rows");
            m.predictContribInto(xd, xo, n, co, oo);
            assertArrayEquals(contrib, Arrays.copyOfRange(co, oo, oo + n * w), "double[] offsets");
            DoubleBuffer cBuf = ByteBuffer.allocateDirect(8 * n * w).order(ByteOrder.LITTLE_ENDIAN)
                    .asDoubleBuffer();
            m.predictContribInto(xbDirect, n, cBuf);
            assertArrayEquals(contrib, toArray(cBuf), "direct int8 ByteBuffer contributions");
            cBuf.clear();
            m.predictContribInto(xdDirect, n, cBuf);
            assertArrayEquals(contrib, toArray(cBuf), "direct DoubleBuffer contributions");

            // Row by row against the path and the nodes.
            Node[] nodes = nodes(m);
            double[] proba = m.predictProba(in.bytes, n);
            int[] labels = m.predict(in.bytes, n);
            for (int r = 0; r < n; r++) {
                String where = g.file + " row " + g.rowIds[r];
                int[] path = m.decisionPath(in.bytesRow(r));
                assertArrayEquals(path, m.decisionPath(in.doublesRow(r)), where + ": f64 path");
                assertTrue(path.length >= 1 && path.length <= m.maxDepth() + 1, where);
                assertEquals(0, path[0], where + ": the path starts at the root");
                int leaf = path[path.length - 1];
                assertEquals(g.leafPreorder[r], leaf, where + ": the path ends at the leaf");
                assertTrue(nodes[leaf].isLeaf(), where);
                assertEquals(labels[r], nodes[leaf].label(), where + ": the leaf's label");
                assertBits(proba[2 * r + 1], nodes[leaf].probability1(), where + ": leaf P1");
                double[] expected = new double[w];
                boolean[] tested = new boolean[nf];
                expected[nf] = nodes[0].probability1();
                for (int k = 0; k + 1 < path.length; k++) {
                    Node at = nodes[path[k]];
                    assertFalse(at.isLeaf(), where + ": inner node " + at.index() + " is a leaf");
                    int f = at.feature();
                    assertEquals(at.child(in.bytes[r * nf + f]), path[k + 1],
                            where + ": step from node " + at.index() + " on feature " + f);
                    tested[f] = true;
                    expected[f] += nodes[path[k + 1]].probability1() - at.probability1();
                }
                double sum = 0;
                for (int f = 0; f <= nf; f++) {
                    double c = contrib[r * w + f];
                    sum += c;
                    if (f < nf && !tested[f]) {
                        assertEquals(0.0, c, where + ": feature " + f + " is off the path");
                    } else {
                        assertEquals(expected[f], c, TOLERANCE, where + ": feature " + f);
                    }
                }
                assertBits(nodes[0].probability1(), contrib[r * w + nf], where + ": bias");
                assertEquals(proba[2 * r + 1], sum, TOLERANCE, where + ": sum vs P(class 1)");
            }
        }
    }

    private static void assertLeaves(Golden g, int[] leaves, String how) {
        assertEquals(g.leafPreorder.length, leaves.length, how);
        for (int r = 0; r < leaves.length; r++) {
            if (leaves[r] != g.leafPreorder[r]) {
                fail(g.file + " row " + g.rowIds[r] + " (" + how + "): leaf " + leaves[r]
                        + ", leaf_preorder " + g.leafPreorder[r]);
            }
        }
    }

    /** Node by node, in pre-order, against the reference's own JSON of the tree. */
    @SuppressWarnings("unchecked")
    private static void nodesAgree(RefModel ref) {
        Map<String, Object> json =
                (Map<String, Object>) MiniJson.parse(ReferenceData.readString(ref.modelJson()));
        Map<String, Object> root = json.containsKey("tree_structure")
                ? (Map<String, Object>) json.get("tree_structure")
                : json;
        try (Model m = Model.load(ref.ttm())) {
            Node[] nodes = nodes(m);
            int[] next = {0};
            visit(root, nodes, next);
            assertEquals(m.nNodes(), next[0], "the JSON has as many nodes as the model");
            assertEquals(m.nLeaves(), Arrays.stream(nodes).filter(Node::isLeaf).count());
        }
    }

    @SuppressWarnings("unchecked")
    private static int visit(Map<String, Object> j, Node[] nodes, int[] next) {
        int i = next[0]++;
        Node n = nodes[i];
        String where = "node " + i + " (" + j.get("ancestry") + ")";
        boolean leaf = Boolean.TRUE.equals(j.get("is_leaf"));
        assertEquals(leaf, n.isLeaf(), where);
        List<Object> counts = (List<Object>) j.get("class_counts");
        assertEquals((Double) counts.get(0), n.classCount0(), 0.0, where);
        assertEquals((Double) counts.get(1), n.classCount1(), 0.0, where);
        assertEquals(n.classCount(0), n.classCount0());
        assertEquals(n.probability(1), n.probability1());
        assertEquals((Double) j.get("n_samples"), n.nSamples(), 0.0, where);
        assertEquals(n.classCount1() > n.classCount0() ? 1 : 0, n.label(), where + ": label");
        assertEquals(1.0, n.probability0() + n.probability1(), 1e-15, where);
        if (leaf) {
            assertEquals(-1, n.feature(), where);
            assertEquals(-1, n.left(), where);
            assertEquals(-1, n.right(), where);
            assertFalse(n.missingRight(), where);
            return i;
        }
        assertEquals(((Double) j.get("feature_idx")).intValue(), n.feature(), where);
        assertEquals(i + 1, n.left(), where + ": pre-order puts the left child next");
        int left = visit((Map<String, Object>) j.get("left"), nodes, next);
        assertEquals(next[0], n.right(), where + ": the right child follows the left subtree");
        int right = visit((Map<String, Object>) j.get("right"), nodes, next);
        assertEquals(nodes[right].nSamples() > nodes[left].nSamples(), n.missingRight(),
                where + ": a missing value goes to the child with more samples, left on a tie");
        assertEquals(left, n.child(0));
        assertEquals(right, n.child(1));
        return i;
    }

    private static int[] toArray(IntBuffer b) {
        int[] a = new int[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    private static double[] toArray(DoubleBuffer b) {
        double[] a = new double[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    // ------------------------------------------------------------------ hostile arguments

    @Test
    void nullsShapesAndLengths() {
        RefModel ref = TestData.models().get(0);
        try (Model m = Model.load(ref.ttm())) {
            int nf = m.nFeatures();
            byte[] one = new byte[nf];
            double[] oneD = new double[nf];
            assertThrows(NullPointerException.class, () -> m.predictLeaf((byte[]) null, 1));
            assertThrows(NullPointerException.class, () -> m.predictLeaf((double[]) null, 1));
            assertThrows(NullPointerException.class, () -> m.predictContrib((byte[]) null, 1));
            assertThrows(NullPointerException.class, () -> m.predictContrib((double[]) null, 1));
            assertThrows(NullPointerException.class, () -> m.decisionPath((byte[]) null));
            assertThrows(NullPointerException.class, () -> m.decisionPath((double[]) null));
            assertThrows(NullPointerException.class, () -> m.predictLeafInto(one, 0, 1, null, 0));
            assertThrows(NullPointerException.class,
                    () -> m.predictContribInto(oneD, 0, 1, null, 0));
            assertThrows(NullPointerException.class,
                    () -> m.predictLeafInto((ByteBuffer) null, 1, IntBuffer.allocate(1)));

            // Shapes: the library's SHAPE, with the widths in the message.
            expect(ThetaTreeException.SHAPE, () -> m.predictLeaf(new byte[nf + 1], 1));
            expect(ThetaTreeException.SHAPE, () -> m.predictLeaf(new double[2 * nf + 2], 2));
            expect(ThetaTreeException.SHAPE, () -> m.predictLeaf(one, -1));
            expect(ThetaTreeException.SHAPE, () -> m.predictContrib(new byte[2 * nf], 3));
            expect(ThetaTreeException.SHAPE, () -> m.predictContrib(new double[nf - 1], 1));
            for (Executable call : List.<Executable>of(
                    () -> m.decisionPath(new byte[nf - 1]), () -> m.decisionPath(new byte[0]),
                    () -> m.decisionPath(new byte[nf + 1]),
                    () -> m.decisionPath(new double[nf + 7]))) {
                ThetaTreeException e = expect(ThetaTreeException.SHAPE, call);
                assertTrue(e.detail().contains(String.valueOf(nf)), e.detail());
            }
            assertEquals(0, m.predictLeaf(new byte[0], 0).length);
            assertEquals(0, m.predictContrib(new double[0], 0).length);

            // Lengths: nothing is written when the output is short.
            int[] shortLeaves = {-9};
            ThetaTreeException e = expect(ThetaTreeException.LENGTH,
                    () -> m.predictLeafInto(new byte[2 * nf], 0, 2, shortLeaves, 0));
            assertEquals(-9, shortLeaves[0], "nothing written: " + e.getMessage());
            double[] shortContrib = new double[nf];
            Arrays.fill(shortContrib, -9.0);
            expect(ThetaTreeException.LENGTH,
                    () -> m.predictContribInto(one, 0, 1, shortContrib, 0));
            assertTrue(Arrays.stream(shortContrib).allMatch(v -> v == -9.0), "nothing written");
            double[] exact = new double[nf + 1];
            expect(ThetaTreeException.LENGTH, () -> m.predictContribInto(oneD, 0, 1, exact, 1));
            m.predictContribInto(oneD, 0, 1, exact, 0);
            expect(ThetaTreeException.LENGTH,
                    () -> m.predictLeafInto(new byte[nf], 0, 2, new int[2], 0));
            expect(ThetaTreeException.LENGTH,
                    () -> m.predictLeafInto(new double[nf + 3], 4, 1, new int[1], 0));

            // Offsets.
            assertThrows(IndexOutOfBoundsException.class,
                    () -> m.predictLeafInto(one, -1, 1, new int[1], 0));
            assertThrows(IndexOutOfBoundsException.class,
                    () -> m.predictLeafInto(one, 0, 1, new int[1], 2));
            assertThrows(IndexOutOfBoundsException.class,
                    () -> m.predictContribInto(oneD, nf + 1, 0, new double[1], 0));

            // Direct buffers.
            IntBuffer leafOut = ByteBuffer.allocateDirect(8).order(ByteOrder.LITTLE_ENDIAN)
                    .asIntBuffer();
            ByteBuffer x = ByteBuffer.allocateDirect(2 * nf);
            assertThrows(IllegalArgumentException.class,
                    () -> m.predictLeafInto(ByteBuffer.allocate(nf), 1, leafOut));
            assertThrows(IllegalArgumentException.class,
                    () -> m.predictLeafInto(x, 1, IntBuffer.allocate(1)));
            assertThrows(IllegalArgumentException.class, () -> m.predictLeafInto(x, 1,
                    ByteBuffer.allocateDirect(4).order(ByteOrder.BIG_ENDIAN).asIntBuffer()));
            assertThrows(IllegalArgumentException.class,
                    () -> m.predictLeafInto(x, 1, leafOut.asReadOnlyBuffer()));
            expect(ThetaTreeException.LENGTH, () -> m.predictLeafInto(x, 3, leafOut));
            IntBuffer oneSlot = ByteBuffer.allocateDirect(4).order(ByteOrder.LITTLE_ENDIAN)
                    .asIntBuffer();
            expect(ThetaTreeException.LENGTH, () -> m.predictLeafInto(x, 2, oneSlot));
            DoubleBuffer contribOut = ByteBuffer.allocateDirect(8 * nf)
                    .order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
            expect(ThetaTreeException.LENGTH, () -> m.predictContribInto(x, 1, contribOut));
            expect(ThetaTreeException.SHAPE, () -> m.predictContribInto(x, -1, contribOut));
        }
    }

    @Test
    void badValuesNameTheirRowAndColumn() {
        RefModel ref = TestData.models().get(0);
        Input in = TestData.input(ref.dataset(), false);
        try (Model m = Model.load(ref.ttm())) {
            int nf = m.nFeatures();
            int n = Math.min(in.nRows, 40);
            for (int r : new int[] {0, 17, n - 1}) {
                int c = columnReadBy(m, in.bytesRow(r));
                byte[] xb = Arrays.copyOf(in.bytes, n * nf);
                xb[r * nf + c] = 2;
                double[] xd = Arrays.copyOf(in.doubles, n * nf);
                xd[r * nf + c] = 0.5;
                for (Executable call : List.<Executable>of(
                        () -> m.predictLeaf(xb, n), () -> m.predictLeaf(xd, n),
                        () -> m.predictContrib(xb, n), () -> m.predictContrib(xd, n))) {
                    ThetaTreeException e = expect(ThetaTreeException.INPUT_VALUE, call);
                    assertEquals(r, e.row(), e.getMessage());
                    assertEquals(c, e.column(), e.getMessage());
                }
                byte[] rowB = Arrays.copyOfRange(xb, r * nf, (r + 1) * nf);
                double[] rowD = Arrays.copyOfRange(xd, r * nf, (r + 1) * nf);
                for (Executable call : List.<Executable>of(
                        () -> m.decisionPath(rowB), () -> m.decisionPath(rowD))) {
                    ThetaTreeException e = expect(ThetaTreeException.INPUT_VALUE, call);
                    assertEquals(0, e.row(), e.getMessage());
                    assertEquals(c, e.column(), e.getMessage());
                }
                for (double bad : new double[] {Double.POSITIVE_INFINITY, -1.0, 2.0}) {
                    double[] row = in.doublesRow(r);
                    row[c] = bad;
                    expect(ThetaTreeException.INPUT_VALUE, () -> m.decisionPath(row));
                }
            }
        }
    }

    /** Batches cut into several critical regions by the shim still number rows from the start. */
    @Test
    void badValueRowIsRelativeToTheWholeBatch() {
        RefModel big = TestData.models().stream()
                .filter(m -> TestData.input(m.dataset(), false).nRows * TestData.input(
                        m.dataset(), false).nCols > (1 << 20))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no reference input large enough to chunk"));
        Input in = TestData.input(big.dataset(), false);
        Golden g = TestData.golden(big.name(), false);
        try (Model m = Model.load(big.ttm())) {
            int n = in.nRows;
            int nf = in.nCols;
            assertLeaves(g, m.predictLeaf(in.bytes, n), "chunked byte[]");
            assertLeaves(g, m.predictLeaf(in.doubles, n), "chunked double[]");
            double[] contrib = m.predictContrib(in.doubles, n);
            double[] proba = m.predictProba(in.doubles, n);
            for (int r = 0; r < n; r++) {
                double sum = 0;
                for (int f = 0; f <= nf; f++) {
                    sum += contrib[r * (nf + 1) + f];
                }
                assertEquals(proba[2 * r + 1], sum, TOLERANCE, "row " + r);
            }
            int r = n - 1;
            int c = columnReadBy(m, in.bytesRow(r));
            byte[] xb = in.bytes.clone();
            xb[r * nf + c] = 9;
            double[] xd = in.doubles.clone();
            xd[r * nf + c] = -0.5;
            for (Executable call : List.<Executable>of(
                    () -> m.predictLeaf(xb, n), () -> m.predictContrib(xd, n))) {
                ThetaTreeException e = expect(ThetaTreeException.INPUT_VALUE, call);
                assertEquals(r, e.row(), e.getMessage());
                assertEquals(c, e.column(), e.getMessage());
                assertTrue(e.detail().startsWith("row " + r + ","), e.detail());
            }
        }
    }

    /**
     * A chain of 100 splits on feature 0 (each with a one-sample leaf on the left): a path of 101
     * nodes is longer than the shim's stack buffer, so decisionPath takes the library's
     * needed-length answer (TT_ERR_LENGTH) and asks again.
     */
    @Test
    void pathLongerThanTheStackBuffer() throws Exception {
        int depth = 100;
        StringBuilder json = new StringBuilder();
        for (int d = 0; d < depth; d++) {
            int rest = depth - d;
            json.append("{\"type\":\"split\",\"feature_idx\":0,\"feature_name\":\"f\",")
                    .append("\"n_samples\":").append(rest + 1).append(",\"class_counts\":[")
                    .append(rest).append(",1],\"left\":{\"type\":\"leaf\",\"n_samples\":1,")
                    .append("\"class_counts\":[1,0]},\"right\":");
        }
        json.append("{\"type\":\"leaf\",\"n_samples\":1,\"class_counts\":[0,1]}");
        json.append("}".repeat(depth));
        Path src = tmp.resolve("chain.json");
        Path ttm = tmp.resolve("chain.ttm");
        Files.writeString(src, json);
        TestData.run(List.of(TestData.cli().toString(), "compile", src.toString(), "-o",
                ttm.toString()));
        try (Model m = Model.load(ttm)) {
            assertEquals(depth, m.maxDepth());
            // Pre-order: split d is node 2d, its left leaf 2d+1, its right child 2d+2.
            int[] present = m.decisionPath(new byte[] {1});
            assertEquals(depth + 1, present.length);
            for (int k = 0; k <= depth; k++) {
                assertEquals(2 * k, present[k], "step " + k);
            }
            assertArrayEquals(present, m.decisionPath(new double[] {1.0}));
            assertArrayEquals(new int[] {0, 1}, m.decisionPath(new byte[] {0}));
            // Missing goes to the bigger side: right, except at the last split (a tie: left).
            int[] missing = m.decisionPath(new double[] {Double.NaN});
            assertEquals(depth + 1, missing.length);
            assertEquals(2 * depth - 1, missing[depth]);
            assertArrayEquals(new int[] {2 * depth, 1, 2 * depth - 1},
                    m.predictLeaf(new byte[] {1, 0, -1}, 3));
            double[] c = m.predictContrib(new byte[] {1, 0, -1}, 3);
            double[] p = m.predictProba(new byte[] {1, 0, -1}, 3);
            for (int r = 0; r < 3; r++) {
                assertEquals(p[2 * r + 1], c[2 * r] + c[2 * r + 1], TOLERANCE, "row " + r);
                assertBits(m.node(0).probability1(), c[2 * r + 1], "bias of row " + r);
            }
            ThetaTreeException e = expect(ThetaTreeException.INPUT_VALUE,
                    () -> m.decisionPath(new byte[] {3}));
            assertEquals(0, e.column());
        }
    }

    @Test
    void nodeOutOfRange() {
        try (Model m = Model.load(TestData.models().get(0).ttm())) {
            int nn = m.nNodes();
            for (int i : new int[] {nn, nn + 1, Integer.MAX_VALUE}) {
                ThetaTreeException e = expect(ThetaTreeException.NOT_FOUND, () -> m.node(i));
                assertTrue(e.detail().contains(String.valueOf(i)), e.detail());
                assertTrue(e.detail().contains(String.valueOf(nn)), e.detail());
            }
            ThetaTreeException e = expect(ThetaTreeException.NOT_FOUND, () -> m.node(-1));
            assertTrue(e.detail().contains("-1"), e.detail());
            Node leaf = Arrays.stream(nodes(m)).filter(Node::isLeaf).findFirst().orElseThrow();
            assertThrows(IllegalStateException.class, () -> leaf.child(1));
            assertThrows(IllegalArgumentException.class, () -> m.node(0).child(2));
            assertThrows(IndexOutOfBoundsException.class, () -> leaf.probability(2));
        }
    }

    @Test
    void closedModel() {
        Model m = Model.load(TestData.models().get(0).ttm());
        int nf = m.nFeatures();
        m.close();
        byte[] x = new byte[nf];
        for (Executable call : List.<Executable>of(
                () -> m.predictLeaf(x, 1), () -> m.predictContrib(x, 1),
                () -> m.predictLeafInto(x, 0, 1, new int[1], 0),
                () -> m.predictContribInto(x, 0, 1, new double[nf + 1], 0),
                () -> m.decisionPath(x), () -> m.node(0), () -> m.node(-1),
                () -> m.predictLeafInto(ByteBuffer.allocateDirect(nf), 1, ByteBuffer
                        .allocateDirect(4).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer()))) {
            assertThrows(IllegalStateException.class, call);
        }
    }
}
