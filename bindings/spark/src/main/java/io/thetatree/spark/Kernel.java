package io.thetatree.spark;

import io.thetatree.Model;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;

/**
 * One native batch call over rows {@code [start, start + n)} of a {@link BatchBuffer}, through the
 * Java binding's direct-buffer (zero-copy) entry points. Each output column names the kernel that
 * computes it; a batch runs each needed kernel once.
 */
enum Kernel {
    /** Class labels (0/1) into {@link BatchBuffer#labels()}. */
    LABELS {
        @Override
        void run(Model m, BatchBuffer b, int start, int n) {
            IntBuffer out = b.labels();
            out.position(start);
            m.predictInto(b.int8().position(b.rowStart(start)), n, out);
        }
    },
    /** [P(class 0), P(class 1)] per row into {@link BatchBuffer#probabilities()}. */
    PROBABILITIES {
        @Override
        void run(Model m, BatchBuffer b, int start, int n) {
            DoubleBuffer out = b.probabilities();
            out.position(2 * start);
            m.predictProbaInto(b.int8().position(b.rowStart(start)), n, out);
        }
    },
    /** The reached leaf's pre-order node index per row (tt_predict_leaf) into {@link BatchBuffer#leaves()}. */
    LEAVES {
        @Override
        void run(Model m, BatchBuffer b, int start, int n) {
            IntBuffer out = b.leaves();
            out.position(start);
            m.predictLeafInto(b.int8().position(b.rowStart(start)), n, out);
        }
    };

    /**
     * Scores {@code n} rows from slot {@code start}. A bad cell throws the library's {@code
     * ThetaTreeException} (INPUT_VALUE) with its row relative to {@code start}; outputs of the
     * rows before it are written.
     */
    abstract void run(Model m, BatchBuffer b, int start, int n);
}
