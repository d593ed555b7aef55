package io.thetatree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Access to the repository, the compiled reference models and the golden reference data.
 * Nothing here is optional: missing data fails the test with a message saying what to run.
 *
 * <ul>
 *   <li>repository root: system property {@code thetatree.repo} (set by the pom), else {@code ../..}
 *   <li>reference data: see {@link ReferenceData} (system property or env
 *       {@code TT_REFERENCE_DIR}, else the bundled {@code <repo>/tests/data/reference})
 *   <li>compiled models: system property or env {@code TT_MODELS_DIR}, else
 *       {@code <repo>/target/reference-models} (made by {@code .ci/compile-reference-models})
 * </ul>
 */
final class TestData {
    private TestData() {}

    private static final Map<String, Input> INPUTS = new ConcurrentHashMap<>();
    private static final Map<String, Golden> GOLDEN = new ConcurrentHashMap<>();

    static Path repo() {
        return ReferenceData.repo();
    }

    private static String setting(String name) {
        String v = System.getProperty(name);
        if (v == null || v.isEmpty()) {
            v = System.getenv(name);
        }
        return v == null || v.isEmpty() ? null : v;
    }

    static Path referenceDir() {
        return ReferenceData.dir();
    }

    static Path modelsDir() {
        String v = setting("TT_MODELS_DIR");
        return (v != null ? Path.of(v) : repo().resolve("target/reference-models"))
                .toAbsolutePath().normalize();
    }

    static Path cli() {
        Path p = repo().resolve("target/release/thetatree");
        if (!Files.isExecutable(p)) {
            fail(p + " not found: run cargo build --release in " + repo());
        }
        return p;
    }

    /** One line of tests/reference_models.tsv. */
    record RefModel(String name, String modelJson, String mapping, String dataset) {
        Path ttm() {
            Path p = modelsDir().resolve(name + ".ttm");
            if (!Files.isRegularFile(p)) {
                fail(p + " not found: run .ci/compile-reference-models (or bindings/java/run-tests.sh)");
            }
            return p;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static List<RefModel> models() {
        Path tsv = repo().resolve("tests/reference_models.tsv");
        List<RefModel> out = new ArrayList<>();
        for (String line : readLines(tsv)) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t", -1);
            assertEquals(4, f.length, tsv + ": bad line: " + line);
            out.add(new RefModel(f[0], f[1], f[2], f[3]));
        }
        assertTrue(!out.isEmpty(), tsv + " lists no models");
        return out;
    }

    static RefModel model(String name) {
        return models().stream()
                .filter(m -> m.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no reference model " + name));
    }

    /** A parsed inputs/<dataset>_X[_missing].csv. */
    static final class Input {
        final String file;
        final List<String> featureNames;
        final String[] rowIds;
        final int nRows;
        final int nCols;
        final byte[] bytes; // -1 = missing
        final double[] doubles; // NaN = missing
        final int missingCells;

        Input(String file, List<String> featureNames, String[] rowIds, byte[] bytes,
                double[] doubles, int missingCells) {
            this.file = file;
            this.featureNames = featureNames;
            this.rowIds = rowIds;
            this.nRows = rowIds.length;
            this.nCols = featureNames.size();
            this.bytes = bytes;
            this.doubles = doubles;
            this.missingCells = missingCells;
        }

        byte[] bytesRow(int r) {
            return Arrays.copyOfRange(bytes, r * nCols, (r + 1) * nCols);
        }

        double[] doublesRow(int r) {
            return Arrays.copyOfRange(doubles, r * nCols, (r + 1) * nCols);
        }
    }

    static Input input(String dataset, boolean missing) {
        String file = "inputs/" + dataset + (missing ? "_X_missing.csv" : "_X.csv");
        return INPUTS.computeIfAbsent(file, TestData::parseInput);
    }

    private static Input parseInput(String file) {
        Path p = referenceDir().resolve(file);
        List<String> lines = ReferenceData.readLines(file);
        String[] header = lines.get(0).split(",", -1);
        assertEquals("row", header[0], p + ": first column must be row");
        List<String> names = List.of(Arrays.copyOfRange(header, 1, header.length));
        int nCols = names.size();
        int nRows = lines.size() - 1;
        byte[] b = new byte[nRows * nCols];
        double[] d = new double[nRows * nCols];
        String[] ids = new String[nRows];
        int missing = 0;
        for (int r = 0; r < nRows; r++) {
            String line = lines.get(r + 1);
            String[] cells = line.split(",", -1);
            assertEquals(nCols + 1, cells.length, p + " line " + (r + 2));
            ids[r] = cells[0];
            for (int c = 0; c < nCols; c++) {
                String s = cells[c + 1];
                int i = r * nCols + c;
                switch (s) {
                    case "0":
                        b[i] = 0;
                        d[i] = 0.0;
                        break;
                    case "1":
                        b[i] = 1;
                        d[i] = 1.0;
                        break;
                    case "":
                        b[i] = -1;
                        d[i] = Double.NaN;
                        missing++;
                        break;
                    default:
                        fail(p + " line " + (r + 2) + ": unexpected cell '" + s + "'");
                }
            }
        }
        return new Input(file, names, ids, b, d, missing);
    }

    /** A parsed golden/<model>__X[_missing].csv; p0/p1 null where the golden cell is empty. */
    static final class Golden {
        final String file;
        final String[] rowIds;
        final int[] pred;
        final Double[] p0;
        final Double[] p1;
        final int[] leafPreorder;

        Golden(String file, String[] rowIds, int[] pred, Double[] p0, Double[] p1, int[] leaf) {
            this.file = file;
            this.rowIds = rowIds;
            this.pred = pred;
            this.p0 = p0;
            this.p1 = p1;
            this.leafPreorder = leaf;
        }
    }

    static Golden golden(String model, boolean missing) {
        String file = "golden/" + model + (missing ? "__X_missing.csv" : "__X.csv");
        return GOLDEN.computeIfAbsent(file, TestData::parseGolden);
    }

    private static Golden parseGolden(String file) {
        Path p = referenceDir().resolve(file);
        List<String> lines = ReferenceData.readLines(file);
        assertEquals("row,y_true,pred,p0,p1,leaf_preorder", lines.get(0), p + ": header");
        int n = lines.size() - 1;
        String[] ids = new String[n];
        int[] pred = new int[n];
        Double[] p0 = new Double[n];
        Double[] p1 = new Double[n];
        int[] leaf = new int[n];
        for (int r = 0; r < n; r++) {
            String[] f = lines.get(r + 1).split(",", -1);
            assertEquals(6, f.length, p + " line " + (r + 2));
            ids[r] = f[0];
            pred[r] = Integer.parseInt(f[2]);
            p0[r] = f[3].isEmpty() ? null : Double.parseDouble(f[3]);
            p1[r] = f[4].isEmpty() ? null : Double.parseDouble(f[4]);
            assertEquals(p0[r] == null, p1[r] == null, p + " line " + (r + 2) + ": p0/p1 half empty");
            leaf[r] = Integer.parseInt(f[5]);
        }
        return new Golden(file, ids, pred, p0, p1, leaf);
    }

    static List<String> readLines(Path p) {
        try (BufferedReader r = Files.newBufferedReader(p, StandardCharsets.UTF_8)) {
            List<String> out = new ArrayList<>();
            for (String line; (line = r.readLine()) != null; ) {
                out.add(line);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }

    /** Runs a command (no stdin), returns its stdout+stderr; fails on a non-zero exit. */
    static String run(List<String> cmd) {
        try {
            Process pr = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            byte[] out = pr.getInputStream().readAllBytes();
            if (!pr.waitFor(120, TimeUnit.SECONDS)) {
                pr.destroyForcibly();
                fail("timed out: " + cmd);
            }
            String s = new String(out, StandardCharsets.UTF_8);
            if (pr.exitValue() != 0) {
                fail("exit " + pr.exitValue() + ": " + cmd + "\n" + s);
            }
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Bit-exact double comparison with a readable message. */
    static void assertBits(double expected, double actual, String what) {
        if (Double.doubleToRawLongBits(expected) != Double.doubleToRawLongBits(actual)) {
            fail(what + ": expected " + expected + " (0x"
                    + Long.toHexString(Double.doubleToRawLongBits(expected)) + ") but was " + actual
                    + " (0x" + Long.toHexString(Double.doubleToRawLongBits(actual)) + ")");
        }
    }
}
