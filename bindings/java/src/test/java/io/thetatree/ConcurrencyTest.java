package io.thetatree;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.thetatree.TestData.Input;
import io.thetatree.TestData.RefModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** One model shared by many threads; close racing with calls in flight. */
class ConcurrencyTest {
    static final int THREADS = 16;

    /** Serial reference results for a whole input. */
    record Serial(int[] labels, double[] proba) {}

    static Serial serial(Model m, Input in) {
        return new Serial(m.predict(in.bytes, in.nRows), m.predictProba(in.bytes, in.nRows));
    }

    /**
     * 16 threads, each doing many random single-row and small-batch predictions through all
     * input/output paths, on one model; every result must equal the serial one (bit-exact).
     */
    @Test
    void sixteenThreadsMatchSerial() throws Exception {
        for (RefModel ref : List.of(TestData.models().get(0), deepest())) {
            Input in = TestData.input(ref.dataset(), true);
            try (Model m = Model.load(ref.ttm())) {
                Serial s = serial(m, in);
                ExecutorService pool = Executors.newFixedThreadPool(THREADS);
                try {
                    CountDownLatch start = new CountDownLatch(1);
                    List<Future<Long>> futures = new ArrayList<>();
                    for (int t = 0; t < THREADS; t++) {
                        final long seed = 1000L + t;
                        futures.add(pool.submit(() -> {
                            start.await();
                            return hammer(m, in, s, seed, 1500);
                        }));
                    }
                    start.countDown();
                    long total = 0;
                    for (Future<Long> f : futures) {
                        total += f.get(120, TimeUnit.SECONDS);
                    }
                    assertTrue(total >= THREADS * 1500L, "rows checked: " + total);
                } finally {
                    pool.shutdownNow();
                    assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
                }
                assertEquals(0, m.handleForTest().inFlight(), "usage counter back to zero");
            }
        }
    }

    /** The reference model with the most nodes (longest traversals). */
    static RefModel deepest() {
        RefModel best = null;
        int nodes = -1;
        for (RefModel r : TestData.models()) {
            try (Model m = Model.load(r.ttm())) {
                if (m.nNodes() > nodes) {
                    nodes = m.nNodes();
                    best = r;
                }
            }
        }
        return best;
    }

    /** Random predictions checked against the serial results; returns the rows checked. */
    static long hammer(Model m, Input in, Serial s, long seed, int iterations) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int nf = in.nCols;
        IntBuffer ib = ByteBuffer.allocateDirect(4 * 64).order(ByteOrder.nativeOrder()).asIntBuffer();
        DoubleBuffer db = ByteBuffer.allocateDirect(8 * 128).order(ByteOrder.nativeOrder())
                .asDoubleBuffer();
        ByteBuffer xb = ByteBuffer.allocateDirect(64 * nf);
        DoubleBuffer xd = ByteBuffer.allocateDirect(8 * 64 * nf).order(ByteOrder.nativeOrder())
                .asDoubleBuffer();
        long rows = 0;
        for (int it = 0; it < iterations; it++) {
            int n = rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(64) : 1;
            int r0 = rnd.nextInt(in.nRows - n + 1);
            int mode = rnd.nextInt(4);
            int[] labels;
            double[] proba;
            switch (mode) {
                case 0: {
                    byte[] x = Arrays.copyOfRange(in.bytes, r0 * nf, (r0 + n) * nf);
                    labels = m.predict(x, n);
                    proba = m.predictProba(x, n);
                    break;
                }
                case 1: {
                    // A slice with a few rows of context before it, read from an offset.
                    int pad = Math.min(r0, 3) * nf;
                    double[] x = Arrays.copyOfRange(in.doubles, r0 * nf - pad, (r0 + n) * nf);
                    labels = new int[n];
                    proba = new double[2 * n];
                    m.predictInto(x, pad, n, labels, 0);
                    m.predictProbaInto(x, pad, n, proba, 0);
                    break;
                }
                case 2: {
                    xb.clear();
                    xb.put(in.bytes, r0 * nf, n * nf).flip();
                    ib.clear().limit(n);
                    db.clear().limit(2 * n);
                    m.predictInto(xb, n, ib);
                    m.predictProbaInto(xb, n, db);
                    labels = ParityTest.toArray(ib);
                    proba = ParityTest.toArray(db);
                    break;
                }
                default: {
                    xd.clear();
                    xd.put(in.doubles, r0 * nf, n * nf).flip();
                    ib.clear().limit(n);
                    db.clear().limit(2 * n);
                    m.predictInto(xd, n, ib);
                    m.predictProbaInto(xd, n, db);
                    labels = ParityTest.toArray(ib);
                    proba = ParityTest.toArray(db);
                }
            }
            assertArrayEquals(Arrays.copyOfRange(s.labels, r0, r0 + n), labels,
                    "labels rows " + r0 + "+" + n + " mode " + mode);
            for (int i = 0; i < 2 * n; i++) {
                if (Double.doubleToRawLongBits(s.proba[2 * r0 + i])
                        != Double.doubleToRawLongBits(proba[i])) {
                    fail("proba rows " + r0 + "+" + n + " mode " + mode + " index " + i);
                }
            }
            rows += n;
        }
        return rows;
    }

    /**
     * close() waits for a call in flight: with one usage registered by hand (what every call
     * does), close blocks, the model is not freed, and new calls are already refused; once the
     * usage is released, close completes and frees the model.
     */
    @Test
    void closeWaitsForCallsInFlight() throws Exception {
        RefModel ref = TestData.models().get(0);
        Model m = Model.load(ref.ttm());
        Model.Handle h = m.handleForTest();
        h.acquire(); // a call in flight
        AtomicBoolean closed = new AtomicBoolean();
        Thread closer = new Thread(() -> {
            m.close();
            closed.set(true);
        });
        Thread closer2 = new Thread(m::close); // a second, concurrent close also waits
        closer.start();
        closer2.start();
        closer.join(300);
        closer2.join(50);
        assertTrue(closer.isAlive(), "close returned while a call was in flight");
        assertTrue(closer2.isAlive(), "second close returned while a call was in flight");
        assertFalse(closed.get());
        assertFalse(h.isFreed(), "freed under a call in flight");
        assertTrue(m.isClosed());
        assertThrows(IllegalStateException.class, m::nFeatures, "new calls refused once closing");
        assertThrows(IllegalStateException.class,
                () -> m.predict(new byte[0], 0));
        closer.interrupt(); // an interrupt does not make close give up (or free early)
        closer.join(100);
        assertTrue(closer.isAlive());
        assertFalse(h.isFreed());
        h.release();
        closer.join(10_000);
        closer2.join(10_000);
        assertFalse(closer.isAlive());
        assertFalse(closer2.isAlive());
        assertTrue(closed.get());
        assertTrue(h.isFreed());
    }

    /**
     * Threads predicting in a loop (large batches, so that calls are in flight) while another
     * thread closes the model: every call either returns the correct result or throws
     * IllegalStateException; once close has returned, nothing is in flight and every call
     * throws IllegalStateException. Repeated to vary the interleaving.
     */
    @Test
    void closeWhileOtherThreadsPredict() throws Exception {
        RefModel ref = deepest();
        Input in = TestData.input(ref.dataset(), true);
        for (int round = 0; round < 5; round++) {
            Model m = Model.load(ref.ttm());
            Serial s = serial(m, in);
            int workers = 8;
            ExecutorService pool = Executors.newFixedThreadPool(workers);
            AtomicInteger inside = new AtomicInteger();
            AtomicLong okCalls = new AtomicLong();
            AtomicInteger refused = new AtomicInteger();
            CountDownLatch running = new CountDownLatch(workers);
            List<Future<Void>> futures = new ArrayList<>();
            try {
                for (int t = 0; t < workers; t++) {
                    final int id = t;
                    futures.add(pool.submit((Callable<Void>) () -> {
                        running.countDown();
                        for (long i = 0; ; i++) {
                            try {
                                inside.incrementAndGet();
                                if ((i + id) % 2 == 0) {
                                    assertArrayEquals(s.labels, m.predict(in.bytes, in.nRows));
                                } else {
                                    double[] p = m.predictProba(in.doubles, in.nRows);
                                    for (int k = 0; k < p.length; k++) {
                                        if (Double.doubleToRawLongBits(p[k])
                                                != Double.doubleToRawLongBits(s.proba[k])) {
                                            fail("wrong probability at " + k);
                                        }
                                    }
                                }
                                okCalls.incrementAndGet();
                            } catch (IllegalStateException e) {
                                refused.incrementAndGet();
                                return null;
                            } finally {
                                inside.decrementAndGet();
                            }
                        }
                    }));
                }
                assertTrue(running.await(30, TimeUnit.SECONDS));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (okCalls.get() < workers && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                Thread.sleep(5L * round); // vary the interleaving
                m.close();
                assertTrue(m.handleForTest().isFreed());
                assertEquals(0, m.handleForTest().inFlight(), "close returned with calls in flight");
                assertThrows(IllegalStateException.class, () -> m.predict(in.bytes, in.nRows));
                for (Future<Void> f : futures) {
                    f.get(60, TimeUnit.SECONDS); // rethrows a wrong result
                }
                assertEquals(workers, refused.get(), "every worker ended with IllegalStateException");
                assertEquals(0, inside.get());
                assertTrue(okCalls.get() > 0, "no call completed before close");
            } finally {
                pool.shutdownNow();
                assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
            }
        }
    }
}
