package io.thetatree;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.thetatree.TestData.Golden;
import io.thetatree.TestData.Input;
import io.thetatree.TestData.RefModel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Metadata getters against independent sources: the input CSV headers (feature names and
 * order), the model files themselves (SHA-256), the model JSON (hyperparameters), the compile
 * script (model version = name), the CLI's inspect output (counts, CRC), and Cargo.toml.
 */
class MetadataTest {
    @TempDir Path tmp;

    @TestFactory
    Stream<DynamicTest> everyReferenceModel() {
        List<DynamicTest> tests = new ArrayList<>();
        for (RefModel m : TestData.models()) {
            tests.add(DynamicTest.dynamicTest(m.name(), () -> metadata(m)));
        }
        return tests.stream();
    }

    private static void metadata(RefModel ref) throws Exception {
        Input in = TestData.input(ref.dataset(), false);
        byte[] file = Files.readAllBytes(ref.ttm());
        String inspect = TestData.run(List.of(TestData.cli().toString(), "inspect",
                ref.ttm().toString()));
        try (Model m = Model.load(ref.ttm())) {
            assertEquals(in.nCols, m.nFeatures());
            assertEquals(in.featureNames, m.featureNames());
            for (int i = 0; i < in.nCols; i++) {
                String name = in.featureNames.get(i);
                assertEquals(name, m.featureName(i));
                assertEquals(i, m.featureIndex(name).getAsInt(), name);
                assertEquals(i, m.requireFeatureIndex(name), name);
            }
            assertEquals(2, m.nClasses());
            assertEquals(2, m.classLabels().size());
            assertThrows(UnsupportedOperationException.class, () -> m.featureNames().set(0, "x"));

            // Tree shape: a full binary tree; counts as the CLI reports them.
            assertEquals(2 * m.nLeaves() - 1, m.nNodes());
            Matcher c = Pattern.compile("counts:\\s+(\\d+) nodes, (\\d+) leaves, depth (\\d+), "
                    + "(\\d+) features, (\\d+) classes").matcher(inspect);
            assertTrue(c.find(), inspect);
            assertEquals(Integer.parseInt(c.group(1)), m.nNodes());
            assertEquals(Integer.parseInt(c.group(2)), m.nLeaves());
            assertEquals(Integer.parseInt(c.group(3)), m.maxDepth());
            assertEquals(Integer.parseInt(c.group(4)), m.nFeatures());
            Matcher crc = Pattern.compile("crc32 0x([0-9a-f]{8})").matcher(inspect);
            assertTrue(crc.find(), inspect);
            assertEquals(Long.parseLong(crc.group(1), 16), m.crc32());

            // Leaves reached by the golden rows exist in this tree.
            Golden g = TestData.golden(ref.name(), false);
            Set<Integer> leaves = new HashSet<>();
            for (int l : g.leafPreorder) {
                assertTrue(l > 0 && l < m.nNodes(), "leaf_preorder " + l);
                leaves.add(l);
            }
            assertTrue(leaves.size() <= m.nLeaves());

            // Identity: SHA-256 of the file bytes (unsigned file).
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(file), m.digest());
            byte[] d = m.digest();
            d[0] ^= 1;
            assertFalse(java.util.Arrays.equals(d, m.digest()), "digest() returns a copy");
            assertFalse(m.isSigned());

            // The compile script passes --model-version NAME.
            assertEquals(ref.name(), m.version());

            // Metadata JSON names the source file's SHA-256 and carries its hyperparameters.
            String meta = m.metadataJson().replaceAll("\\s", "");
            assertTrue(meta.startsWith("{") && meta.endsWith("}"), meta);
            byte[] srcBytes = ReferenceData.readBytes(ref.modelJson());
            assertTrue(meta.contains("\"source_sha256\":\"" + hex(MessageDigest
                    .getInstance("SHA-256").digest(srcBytes)) + "\""), meta);
            Matcher crit = Pattern.compile("\"criterion\":\\s*\"(\\w+)\"")
                    .matcher(new String(srcBytes, StandardCharsets.UTF_8));
            if (crit.find()) {
                assertTrue(meta.contains("\"criterion\":\"" + crit.group(1) + "\""), meta);
            }
        }
    }

    @Test
    void libraryVersionMatchesCargoToml() throws Exception {
        String cargo = Files.readString(TestData.repo().resolve("Cargo.toml"));
        Matcher v = Pattern.compile("(?m)^version\\s*=\\s*\"([^\"]+)\"").matcher(cargo);
        assertTrue(v.find());
        assertEquals(v.group(1), Model.libraryVersion());
        assertTrue(NativeLoader.loadedFrom() != null);
    }

    /**
     * Non-ASCII (including characters outside the BMP, which JNI's "modified UTF-8" would mangle)
     * in feature names, class labels and the model version survive the round trip.
     */
    @Test
    void unicodeStrings() throws Exception {
        RefModel ref = TestData.models().stream()
                .min((a, b) -> Long.compare(size(a), size(b)))
                .orElseThrow();
        Path ttm;
        try (Model m = Model.load(ref.ttm())) {
            int last = m.nFeatures() - 1;
            String old = m.featureName(last);
            String fresh = old + "-\u00fc\u00f1\u00ee-\uD83D\uDE00"; // ... U+1F600
            Path json = tmp.resolve("model.json");
            Path mapping = tmp.resolve("mapping.json");
            Files.writeString(json, ReferenceData.readString(ref.modelJson()).replace(
                            "\"" + old + "\"", "\"" + fresh + "\""), StandardCharsets.UTF_8);
            Files.writeString(mapping, ReferenceData.readString(ref.mapping()).replace(
                            "\"" + old + "\"", "\"" + fresh + "\""), StandardCharsets.UTF_8);
            String version = "v1-\u00e9t\u00e9-\uD83C\uDF32";
            String neg = "n\u00e9g";
            String pos = "p\u00f6s\uD83D\uDC4D";
            ttm = tmp.resolve("unicode.ttm");
            // Arguments go through a UTF-8 script file: ProcessBuilder would encode them with the
            // platform charset, which may be ASCII in CI.
            Path script = tmp.resolve("compile.sh");
            Files.writeString(script, "exec '" + TestData.cli() + "' compile '" + json
                    + "' --features '" + mapping + "' --model-version '" + version
                    + "' --class-labels '" + neg + "," + pos + "' -o '" + ttm + "'\n",
                    StandardCharsets.UTF_8);
            TestData.run(List.of("bash", script.toString()));
            try (Model u = Model.load(ttm)) {
                assertEquals(fresh, u.featureName(last));
                assertEquals(last, u.requireFeatureIndex(fresh));
                assertTrue(u.featureIndex(old).isEmpty());
                assertEquals(version, u.version());
                assertEquals(List.of(neg, pos), u.classLabels());
                Input in = TestData.input(ref.dataset(), true);
                assertArrayEquals(m.predict(in.bytes, in.nRows), u.predict(in.bytes, in.nRows));
            }
        }
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            sb.append(String.format("%02x", x));
        }
        return sb.toString();
    }

    private static long size(RefModel r) {
        try {
            return Files.size(r.ttm());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
