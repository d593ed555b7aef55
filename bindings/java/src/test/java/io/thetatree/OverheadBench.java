package io.thetatree;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Per-call cost of single-row predictProba through the binding (not a test; run by
 * bench/run-bench.sh). Usage: OverheadBench MODEL.ttm INPUT.csv [CALLS] [RUNS]. Prints the
 * median ns/call of RUNS timed loops of CALLS calls each, after a warm-up, for each call path.
 */
public final class OverheadBench {
    private OverheadBench() {}

    interface Call {
        double run();
    }

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        Path csv = Path.of(args[1]);
        int calls = args.length > 2 ? Integer.parseInt(args[2]) : 1_000_000;
        int runs = args.length > 3 ? Integer.parseInt(args[3]) : 7;
        String line = java.nio.file.Files.readAllLines(csv).get(1);
        String[] cells = line.split(",", -1);
        try (Model m = Model.load(model)) {
            int nf = m.nFeatures();
            byte[] row = new byte[nf];
            double[] rowD = new double[nf];
            for (int c = 0; c < nf; c++) {
                String s = cells[c + 1];
                row[c] = s.isEmpty() ? -1 : Byte.parseByte(s);
                rowD[c] = s.isEmpty() ? Double.NaN : Double.parseDouble(s);
            }
            double[] out = new double[2];
            ByteBuffer bx = ByteBuffer.allocateDirect(nf).put(row).flip();
            DoubleBuffer bo = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder())
                    .asDoubleBuffer();
            long h = m.handleForTest().acquire();
            m.handleForTest().release();
            bench("JNI floor: static native call, no work (Native.crc32)", calls, runs,
                    () -> Native.crc32(h));
            bench("Native.probaBytes (JNI + critical arrays, no lifetime counter)", calls, runs,
                    () -> {
                        Native.probaBytes(h, row, 0, 1, nf, out, 0, 2);
                        return out[1];
                    });
            bench("Model.predictProbaInto(byte[], ..., double[]) (no allocation)", calls, runs,
                    () -> {
                        m.predictProbaInto(row, 0, 1, out, 0);
                        return out[1];
                    });
            bench("Model.predictProba(byte[], 1) (allocates the result)", calls, runs,
                    () -> m.predictProba(row, 1)[1]);
            bench("Model.predictProba(double[], 1)", calls, runs,
                    () -> m.predictProba(rowD, 1)[1]);
            bench("Model.predictProbaInto(direct ByteBuffer, 1, DoubleBuffer)", calls, runs,
                    () -> {
                        m.predictProbaInto(bx, 1, bo);
                        return bo.get(1);
                    });
        }
    }

    static void bench(String name, int calls, int runs, Call c) {
        double sink = 0;
        for (int i = 0; i < calls; i++) { // warm-up (JIT)
            sink += c.run();
        }
        double[] per = new double[runs];
        for (int r = 0; r < runs; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                sink += c.run();
            }
            per[r] = (System.nanoTime() - t0) / (double) calls;
        }
        Arrays.sort(per);
        System.out.printf("%-70s median %6.1f ns/call (min %.1f, max %.1f; sink %s)%n", name,
                per[runs / 2], per[0], per[runs - 1], sink);
    }
}
