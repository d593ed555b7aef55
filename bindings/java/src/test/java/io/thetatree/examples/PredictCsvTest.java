package io.thetatree.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.thetatree.Model;
import io.thetatree.ReferenceData;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The PredictCsv example reproduces the golden outputs, whatever the column order. */
class PredictCsvTest {

    static Path repo() {
        return ReferenceData.repo();
    }

    static Path models() {
        String v = System.getProperty("TT_MODELS_DIR", System.getenv("TT_MODELS_DIR"));
        return v != null && !v.isEmpty() ? Path.of(v) : repo().resolve("target/reference-models");
    }

    /** First model of tests/reference_models.tsv: {name, dataset}. */
    static String[] firstModel() throws IOException {
        for (String line : Files.readAllLines(repo().resolve("tests/reference_models.tsv"))) {
            if (!line.isBlank() && !line.startsWith("#")) {
                String[] f = line.split("\t");
                return new String[] {f[0], f[3]};
            }
        }
        throw new AssertionError("no model in tests/reference_models.tsv");
    }

    private static String score(Model m, String csv) throws IOException {
        StringWriter sw = new StringWriter();
        try (PrintWriter out = new PrintWriter(sw)) {
            PredictCsv.run(m, new BufferedReader(new StringReader(csv)), out);
        }
        return sw.toString();
    }

    @Test
    void matchesGolden() throws Exception {
        String[] fm = firstModel();
        for (String suffix : new String[] {"_X.csv", "_X_missing.csv"}) {
            String csv = ReferenceData.readString("inputs/" + fm[1] + suffix);
            List<String> golden = ReferenceData.readLines("golden/" + fm[0] + "_" + suffix);
            try (Model m = Model.load(models().resolve(fm[0] + ".ttm"))) {
                compare(score(m, csv), golden, m);
                // Same data with the columns reversed and an extra column: same result.
                compare(score(m, reverseColumns(csv)), golden, m);
            }
        }
    }

    private static void compare(String output, List<String> golden, Model m) {
        String[] lines = output.split("\n");
        assertEquals("row,pred,label,p0,p1", lines[0]);
        assertEquals(golden.size(), lines.length, "row count");
        for (int i = 1; i < lines.length; i++) {
            String[] o = lines[i].split(",", -1);
            String[] g = golden.get(i).split(",", -1);
            assertEquals(g[0], o[0], "row id, line " + i);
            assertEquals(g[2], o[1], "pred, row " + g[0]);
            assertEquals(m.classLabels().get(Integer.parseInt(o[1])), o[2]);
            for (int k = 0; k < 2; k++) {
                if (!g[3 + k].isEmpty() && Double.doubleToRawLongBits(Double.parseDouble(g[3 + k]))
                        != Double.doubleToRawLongBits(Double.parseDouble(o[3 + k]))) {
                    fail("p" + k + " of row " + g[0] + ": " + o[3 + k] + " vs " + g[3 + k]);
                }
            }
        }
    }

    /** Reverses the CSV's columns and appends an unrelated column. */
    static String reverseColumns(String csv) {
        StringBuilder sb = new StringBuilder();
        boolean header = true;
        for (String line : csv.split("\n")) {
            String[] f = line.split(",", -1);
            List<String> r = new ArrayList<>();
            for (int i = f.length - 1; i >= 0; i--) {
                r.add(f[i]);
            }
            r.add(header ? "comment" : "x");
            header = false;
            sb.append(String.join(",", r)).append('\n');
        }
        return sb.toString();
    }

    @Test
    void badInputIsReported() throws Exception {
        String[] fm = firstModel();
        String csv = ReferenceData.readString("inputs/" + fm[1] + "_X.csv");
        String[] lines = csv.split("\n", 4);
        try (Model m = Model.load(models().resolve(fm[0] + ".ttm"))) {
            String bad = lines[0] + "\n" + lines[1].replaceFirst(",0", ",2") + "\n";
            IOException e = assertThrows(IOException.class, () -> score(m, bad));
            assertTrue(e.getMessage().contains("line 2"), e.getMessage());
            String noFeature = lines[0].replaceFirst(",[^,]+", ",renamed") + "\n";
            e = assertThrows(IOException.class, () -> score(m, noFeature));
            assertTrue(e.getMessage().contains("not in the CSV header"), e.getMessage());
        }
    }

    /** The command line entry point, in-process, writing to a file. */
    @Test
    void mainWritesAFile() throws Exception {
        String[] fm = firstModel();
        Path out = Files.createTempFile("predict-csv", ".csv");
        // The command line takes a plain CSV path: give it one (the fixture may be gzipped).
        Path in = Files.createTempFile("predict-csv-input", ".csv");
        try {
            Files.write(in, ReferenceData.readBytes("inputs/" + fm[1] + "_X_missing.csv"));
            PredictCsv.main(new String[] {models().resolve(fm[0] + ".ttm").toString(),
                    in.toString(), out.toString()});
            List<String> golden = ReferenceData.readLines("golden/" + fm[0] + "__X_missing.csv");
            try (Model m = Model.load(models().resolve(fm[0] + ".ttm"))) {
                compare(Files.readString(out, StandardCharsets.UTF_8), golden, m);
            }
            Matcher mm = Pattern.compile("^row,pred").matcher(Files.readString(out));
            assertTrue(mm.find());
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(in);
        }
    }
}
