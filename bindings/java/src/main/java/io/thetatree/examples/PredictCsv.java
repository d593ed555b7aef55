package io.thetatree.examples;

import io.thetatree.Model;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Scores a CSV file with a {@code .ttm} model.
 *
 * <pre>
 * java -cp thetatree.jar io.thetatree.examples.PredictCsv MODEL.ttm INPUT.csv [OUTPUT.csv]
 * </pre>
 *
 * The input's header names the model's features (in any order; other columns are ignored, a
 * column named {@code row} is copied to the output as the row id). Cells are {@code 0}, {@code 1},
 * or empty for missing. Output columns: {@code row,pred,label,p0,p1} (label = the class label of
 * pred). Rows are scored in batches of {@value #BATCH} reusing the input and output arrays.
 * Quoted CSV fields are not supported.
 */
public final class PredictCsv {
    static final int BATCH = 4096;

    private PredictCsv() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: PredictCsv MODEL.ttm INPUT.csv [OUTPUT.csv]");
            System.exit(2);
        }
        try (Model model = Model.load(Path.of(args[0]));
                BufferedReader in = Files.newBufferedReader(Path.of(args[1]), StandardCharsets.UTF_8);
                Writer w = args.length == 3
                        ? Files.newBufferedWriter(Path.of(args[2]), StandardCharsets.UTF_8)
                        : new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
                PrintWriter out = new PrintWriter(w)) {
            int n = run(model, in, out);
            out.flush();
            System.err.println("scored " + n + " rows");
        }
    }

    /** Scores every row of {@code in} and writes the result CSV; returns the number of rows. */
    public static int run(Model model, BufferedReader in, PrintWriter out) throws IOException {
        String header = in.readLine();
        if (header == null) {
            throw new IOException("empty input: no header line");
        }
        String[] names = header.split(",", -1);
        int nf = model.nFeatures();
        int[] featureOfColumn = new int[names.length]; // -1: ignored column
        boolean[] seen = new boolean[nf];
        int rowColumn = -1;
        for (int c = 0; c < names.length; c++) {
            String name = names[c].trim();
            featureOfColumn[c] = model.featureIndex(name).orElse(-1);
            if (featureOfColumn[c] >= 0) {
                seen[featureOfColumn[c]] = true;
            } else if (name.equals("row")) {
                rowColumn = c;
            }
        }
        List<String> absent = new ArrayList<>();
        for (int f = 0; f < nf; f++) {
            if (!seen[f]) {
                absent.add(model.featureName(f));
            }
        }
        if (!absent.isEmpty()) {
            throw new IOException(absent.size() + " model features are not in the CSV header, e.g. "
                    + absent.subList(0, Math.min(5, absent.size())));
        }
        List<String> labels = model.classLabels();
        byte[] x = new byte[BATCH * nf];
        int[] pred = new int[BATCH];
        double[] proba = new double[2 * BATCH];
        String[] ids = new String[BATCH];
        out.println("row,pred,label,p0,p1");
        int total = 0;
        int k = 0;
        String line;
        while (true) {
            line = in.readLine();
            if (line != null && line.isEmpty()) {
                continue;
            }
            if (line != null) {
                String[] cells = line.split(",", -1);
                if (cells.length != names.length) {
                    throw new IOException("line " + (total + k + 2) + ": " + cells.length
                            + " cells, the header has " + names.length);
                }
                Arrays.fill(x, k * nf, (k + 1) * nf, (byte) 0);
                for (int c = 0; c < cells.length; c++) {
                    int f = featureOfColumn[c];
                    if (f >= 0) {
                        x[k * nf + f] = cell(cells[c], total + k + 2, names[c]);
                    }
                }
                ids[k] = rowColumn >= 0 ? cells[rowColumn] : Integer.toString(total + k);
                k++;
            }
            if (k == BATCH || (line == null && k > 0)) {
                model.predictInto(x, 0, k, pred, 0);
                model.predictProbaInto(x, 0, k, proba, 0);
                for (int r = 0; r < k; r++) {
                    out.println(ids[r] + "," + pred[r] + "," + labels.get(pred[r]) + ","
                            + proba[2 * r] + "," + proba[2 * r + 1]);
                }
                total += k;
                k = 0;
            }
            if (line == null) {
                return total;
            }
        }
    }

    private static byte cell(String s, int line, String column) throws IOException {
        switch (s.trim()) {
            case "0":
                return 0;
            case "1":
                return 1;
            case "":
                return -1;
            default:
                throw new IOException("line " + line + ", column " + column + ": '" + s
                        + "' is not 0, 1 or empty");
        }
    }
}
