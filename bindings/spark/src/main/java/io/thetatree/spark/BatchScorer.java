package io.thetatree.spark;

import io.thetatree.Model;
import io.thetatree.ThetaTreeException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The executor side of {@link ThetaTreeModel#transform}: scores a partition in batches. Up to
 * {@code batchRows} input rows are buffered, their cells copied into direct buffers by the {@link
 * RowReader}, each needed {@link Kernel} runs once over the batch (one JNI call per kernel per
 * batch, not per row), and the rows are emitted with the output columns appended.
 *
 * <p>Invalid rows: the reader flags rows it cannot fill (null, wrong length); the library flags a
 * bad cell by failing with its row. Under {@code error} either fails the task with a message
 * naming the partition, row, feature and value. Under {@code skip} / {@code keep} the row is marked
 * and the call resumes after it, so a batch costs one call plus one per bad row; marked rows are
 * dropped ({@code skip}) or emitted with null outputs ({@code keep}).
 */
final class BatchScorer implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    /** Native batch calls made in this JVM (a test hook: batches, not rows, make calls). */
    static final AtomicLong NATIVE_CALLS = new AtomicLong();

    private final Broadcast<byte[]> bytes;
    private final String digest;
    private final RowReader reader;
    private final OutputColumn[] outputs;
    private final Kernel[] kernels;
    private final HandleInvalid handleInvalid;
    private final int batchRows;
    private final int nFeatures;

    BatchScorer(Broadcast<byte[]> bytes, String digest, RowReader reader, OutputColumn[] outputs,
            HandleInvalid handleInvalid, int batchRows, int nFeatures) {
        this.bytes = bytes;
        this.digest = digest;
        this.reader = reader;
        this.outputs = outputs.clone();
        this.kernels = Arrays.stream(outputs).map(OutputColumn::kernel).distinct()
                .toArray(Kernel[]::new);
        this.handleInvalid = handleInvalid;
        this.batchRows = batchRows;
        this.nFeatures = nFeatures;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        return new Scoring(input);
    }

    /** Lazily scores one partition; loads (or reuses) the model only if the partition has rows. */
    private final class Scoring implements Iterator<Row> {
        private final Iterator<Row> input;
        private final int partition = TaskContext.getPartitionId();
        private final Row[] rows = new Row[batchRows];
        private final boolean[] invalid = new boolean[batchRows];
        private final BatchBuffer buf = new BatchBuffer(nFeatures);
        private ExecutorModelCache.Lease lease;
        private long firstRow; // index in the partition of rows[0]
        private int n; // rows in the batch
        private int next; // next slot to emit
        private boolean done;

        Scoring(Iterator<Row> input) {
            this.input = input;
        }

        @Override
        public boolean hasNext() {
            for (;;) {
                while (next < n) {
                    if (!invalid[next] || handleInvalid == HandleInvalid.KEEP) {
                        return true;
                    }
                    next++; // skip
                }
                if (done || !input.hasNext()) {
                    finish();
                    return false;
                }
                nextBatch();
            }
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            int slot = next++;
            Row in = rows[slot];
            rows[slot] = null;
            int width = in.size();
            Object[] values = new Object[width + outputs.length];
            for (int i = 0; i < width; i++) {
                values[i] = in.get(i);
            }
            if (!invalid[slot]) {
                for (int k = 0; k < outputs.length; k++) {
                    values[width + k] = outputs[k].value(buf, slot);
                }
            }
            return RowFactory.create(values);
        }

        private void nextBatch() {
            firstRow += n;
            n = 0;
            next = 0;
            while (n < batchRows && input.hasNext()) {
                rows[n++] = input.next();
            }
            buf.ensureCapacity(n);
            for (int slot = 0; slot < n; slot++) {
                String why = reader.fill(rows[slot], buf, slot);
                invalid[slot] = why != null;
                if (why != null && handleInvalid == HandleInvalid.ERROR) {
                    throw invalidRow(slot, why, null);
                }
            }
            score(model());
        }

        /** Runs every kernel over the batch's runs of rows not (yet) known to be invalid. */
        private void score(Model m) {
            for (Kernel kernel : kernels) {
                int start = 0;
                while (start < n) {
                    while (start < n && invalid[start]) {
                        start++;
                    }
                    int end = start;
                    while (end < n && !invalid[end]) {
                        end++;
                    }
                    if (start == end) {
                        break;
                    }
                    try {
                        NATIVE_CALLS.incrementAndGet();
                        kernel.run(m, buf, start, end - start);
                        start = end;
                    } catch (ThetaTreeException e) {
                        if (e.code() != ThetaTreeException.INPUT_VALUE || e.row() < 0
                                || e.row() >= end - start) {
                            throw e;
                        }
                        int bad = start + (int) e.row();
                        if (handleInvalid == HandleInvalid.ERROR) {
                            throw invalidRow(bad, null, e);
                        }
                        invalid[bad] = true;
                        buf.zero(bad);
                        start = bad + 1;
                    }
                }
            }
        }

        private Model model() {
            if (lease == null) {
                lease = ExecutorModelCache.acquire(digest, bytes::value);
                TaskContext tc = TaskContext.get();
                if (tc != null) {
                    ExecutorModelCache.Lease l = lease;
                    tc.addTaskCompletionListener(new TaskCompletionListener() {
                        @Override
                        public void onTaskCompletion(TaskContext context) {
                            l.close();
                        }
                    });
                }
            }
            return lease.model();
        }

        private void finish() {
            done = true;
            n = 0;
            next = 0;
            if (lease != null) {
                lease.close();
            }
        }

        /** The task failure for row {@code slot}: a shape problem or the library's value error. */
        private ThetaTreeException invalidRow(int slot, String why, ThetaTreeException cause) {
            long row = firstRow + slot;
            String where = "thetatree: cannot score row " + row + " of partition " + partition;
            String hint = "; set handleInvalid to 'skip' to drop such rows or 'keep' to give them "
                    + "null outputs";
            ThetaTreeException e;
            if (cause == null) {
                e = new ThetaTreeException(ThetaTreeException.SHAPE, where + ": " + why + hint,
                        row, -1, 0);
            } else {
                int feature = (int) cause.column();
                String name = lease.model().featureName(feature);
                e = new ThetaTreeException(ThetaTreeException.INPUT_VALUE, where + ": feature '"
                        + name + "' (index " + feature + ", in " + reader.sourceOf(feature) + ") is "
                        + reader.valueOf(rows[slot], feature) + "; a value must be 0, 1 or missing"
                        + " (null, NaN, or -1 in byte and int arrays)" + hint, row, feature, 0);
                e.initCause(cause);
            }
            return e;
        }
    }
}
