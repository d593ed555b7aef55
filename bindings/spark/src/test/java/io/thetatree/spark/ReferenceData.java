package io.thetatree.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.GZIPInputStream;

/**
 * The reference fixtures and the compiled reference models. Missing data fails the test with a
 * message saying what to run; nothing is skipped.
 *
 * <ul>
 *   <li>repository root: system property {@code thetatree.repo} (set by the pom), else {@code ../..}
 *   <li>reference data: {@code TT_REFERENCE_DIR} (system property or environment), else the
 *       bundled {@code <repo>/tests/data/reference}; each CSV may be stored as {@code X.csv} or
 *       gzip-compressed as {@code X.csv.gz} (as the repository stores the large ones)
 *   <li>compiled models: {@code TT_MODELS_DIR}, else {@code <repo>/target/reference-models}
 *       (written by {@code .ci/compile-reference-models})
 * </ul>
 */
final class ReferenceData {
    private ReferenceData() {}

    private static final Map<String, Input> INPUTS = new ConcurrentHashMap<>();
    private static final Map<String, Golden> GOLDEN = new ConcurrentHashMap<>();

    static Path repo() {
        String p = System.getProperty("thetatree.repo");
        return (p != null ? Path.of(p) : Path.of("../..")).toAbsolutePath().normalize();
    }

    private static String setting(String name) {
        String v = System.getProperty(name);
        if (v == null || v.isEmpty()) {
            v = System.getenv(name);
        }
        return v == null || v.isEmpty() ? null : v;
    }

    static Path referenceDir() {
        String v = setting("TT_REFERENCE_DIR");
        Path p = (v != null ? Path.of(v) : repo().resolve("tests/data/reference"))
                .toAbsolutePath().normalize();
        if (!Files.isDirectory(p.resolve("golden"))) {
            fail("reference data not found at " + p
                    + " (TT_REFERENCE_DIR overrides tests/data/reference)");
        }
        return p;
    }

    /** Opens {@code relative} (a {@code .csv} path) as stored: plain, or as {@code .csv.gz}. */
    static BufferedReader open(String relative) {
        Path dir = referenceDir();
        Path plain = dir.resolve(relative);
        Path gz = dir.resolve(relative + ".gz");
        try {
            InputStream in;
            if (Files.isRegularFile(plain)) {
                in = Files.newInputStream(plain);
            } else if (Files.isRegularFile(gz)) {
                in = new GZIPInputStream(Files.newInputStream(gz), 1 << 16);
            } else {
                throw new AssertionError("neither " + plain + " nor " + gz + " exists");
            }
            return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + plain, e);
        }
    }

    static List<String> readLines(String relative) {
        try (BufferedReader r = open(relative)) {
            List<String> out = new ArrayList<>();
            for (String line; (line = r.readLine()) != null; ) {
                out.add(line);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + relative, e);
        }
    }

    static Path modelsDir() {
        String v = setting("TT_MODELS_DIR");
        return (v != null ? Path.of(v) : repo().resolve("target/reference-models"))
                .toAbsolutePath().normalize();
    }

    /** One line of tests/reference_models.tsv. */
    record RefModel(String name, String dataset) {
        Path ttm() {
            Path p = modelsDir().resolve(name + ".ttm");
            if (!Files.isRegularFile(p)) {
                fail(p + " not found: run .ci/compile-reference-models (bindings/spark/run-tests.sh "
                        + "does)");
            }
            return p;
        }

        byte[] bytes() {
            try {
                return Files.readAllBytes(ttm());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static List<RefModel> models() {
        Path tsv = repo().resolve("tests/reference_models.tsv");
        List<RefModel> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(tsv)) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split("\t", -1);
                assertEquals(4, f.length, tsv + ": bad line: " + line);
                out.add(new RefModel(f[0], f[3]));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertFalse(out.isEmpty(), tsv + " lists no models");
        return out;
    }

    static RefModel model(String name) {
        return models().stream().filter(m -> m.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no reference model " + name));
    }

    /** A parsed inputs/<dataset>_X[_missing].csv: cells 0, 1 or -1 (missing). */
    record Input(String file, List<String> featureNames, int[] rowIds, byte[][] cells,
            int missingCells) {
        int nRows() {
            return rowIds.length;
        }
    }

    static Input input(String dataset, boolean missing) {
        String file = "inputs/" + dataset + (missing ? "_X_missing.csv" : "_X.csv");
        return INPUTS.computeIfAbsent(file, ReferenceData::parseInput);
    }

    private static Input parseInput(String file) {
        List<String> lines = readLines(file);
        String[] header = lines.get(0).split(",", -1);
        assertEquals("row", header[0], file + ": first column must be row");
        List<String> names = List.of(Arrays.copyOfRange(header, 1, header.length));
        int n = lines.size() - 1;
        int[] ids = new int[n];
        byte[][] cells = new byte[n][names.size()];
        int missing = 0;
        for (int r = 0; r < n; r++) {
            String[] f = lines.get(r + 1).split(",", -1);
            assertEquals(names.size() + 1, f.length, file + " line " + (r + 2));
            ids[r] = Integer.parseInt(f[0]);
            for (int c = 0; c < names.size(); c++) {
                switch (f[c + 1]) {
                    case "0" -> cells[r][c] = 0;
                    case "1" -> cells[r][c] = 1;
                    case "" -> {
                        cells[r][c] = -1;
                        missing++;
                    }
                    default -> fail(file + " line " + (r + 2) + ": unexpected cell '" + f[c + 1]
                            + "'");
                }
            }
        }
        return new Input(file, names, ids, cells, missing);
    }

    /** A parsed golden/<model>__X[_missing].csv; p0/p1 null where the golden cell is empty. */
    /** A golden file; {@code leafPreorder} is the reached leaf's pre-order node index. */
    record Golden(String file, int[] rowIds, int[] pred, Double[] p0, Double[] p1,
            int[] leafPreorder) {}

    static Golden golden(String model, boolean missing) {
        String file = "golden/" + model + (missing ? "__X_missing.csv" : "__X.csv");
        return GOLDEN.computeIfAbsent(file, ReferenceData::parseGolden);
    }

    private static Golden parseGolden(String file) {
        List<String> lines = readLines(file);
        assertEquals("row,y_true,pred,p0,p1,leaf_preorder", lines.get(0), file + ": header");
        int n = lines.size() - 1;
        int[] ids = new int[n];
        int[] pred = new int[n];
        Double[] p0 = new Double[n];
        Double[] p1 = new Double[n];
        int[] leaf = new int[n];
        for (int r = 0; r < n; r++) {
            String[] f = lines.get(r + 1).split(",", -1);
            assertEquals(6, f.length, file + " line " + (r + 2));
            ids[r] = Integer.parseInt(f[0]);
            pred[r] = Integer.parseInt(f[2]);
            p0[r] = f[3].isEmpty() ? null : Double.valueOf(f[3]);
            p1[r] = f[4].isEmpty() ? null : Double.valueOf(f[4]);
            leaf[r] = Integer.parseInt(f[5]);
        }
        return new Golden(file, ids, pred, p0, p1, leaf);
    }

    /** Bit-exact double comparison with a readable message. */
    static void assertBits(double expected, double actual, String what) {
        if (Double.doubleToRawLongBits(expected) != Double.doubleToRawLongBits(actual)) {
            fail(what + ": expected " + expected + " (0x"
                    + Long.toHexString(Double.doubleToRawLongBits(expected)) + ") but was "
                    + actual + " (0x" + Long.toHexString(Double.doubleToRawLongBits(actual)) + ")");
        }
    }
}
