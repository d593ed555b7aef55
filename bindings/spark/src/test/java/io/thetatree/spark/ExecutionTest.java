package io.thetatree.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.thetatree.Model;
import io.thetatree.ThetaTreeException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkContext;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How scoring runs: the bytes are broadcast once, each digest is loaded once per JVM and shared by
 * tasks and jobs, idle models are evicted past the cache size but models in use never are, and
 * native calls are made per batch. local[2] runs executor code in this JVM, so the cache seen here
 * is the executors'.
 */
class ExecutionTest {
    private static ReferenceData.RefModel ref;
    private static Dataset<Row> df;

    @BeforeAll
    static void setUp() {
        ref = ReferenceData.model("mushroom_gini_unlimited_lgk16");
        df = Frames.of(ReferenceData.input(ref.dataset(), false), 6).select("row", "bin").cache();
        df.count();
    }

    @BeforeEach
    void emptyCache() {
        ExecutorModelCache.evictIdle();
        assertEquals(0, ExecutorModelCache.size(), "no scorer holds a model between tests");
    }

    private static void run(Dataset<Row> scored) {
        scored.write().format("noop").mode("overwrite").save();
    }

    @Test
    void transformedColumnsCarryTheDeclaredMetadata() {
        ThetaTreeModel m = ThetaTreeModel.fromFile(ref.ttm().toString()).setFeaturesCol("bin")
                .setPredictionCol("pred.col");
        Dataset<Row> scored = m.transform(df);
        assertEquals(m.transformSchema(df.schema()), scored.schema(),
                "transform's schema, metadata included, is what transformSchema declares");
        assertFalse(scored.schema().apply("pred.col").metadata().json().equals("{}"));
        assertEquals(df.count(), scored.count());
    }

    @Test
    void eachDigestIsLoadedOncePerJvm() {
        long before = ExecutorModelCache.loads();
        ThetaTreeModel m = ThetaTreeModel.fromFile(ref.ttm().toString()).setFeaturesCol("bin");
        for (int job = 0; job < 3; job++) {
            run(m.transform(df)); // 6 partitions on 2 task threads
        }
        assertEquals(1, ExecutorModelCache.loads() - before, "3 jobs x 6 tasks, one load");
        // Another instance of the same model (same digest) reuses the loaded one.
        run(ThetaTreeModel.fromBytes(ref.bytes()).setFeaturesCol("bin").transform(df));
        assertEquals(1, ExecutorModelCache.loads() - before);
        // A different model is a second load.
        run(ThetaTreeModel.fromFile(ReferenceData.model("mushroom_gini_d5_lgk12").ttm().toString())
                .setFeaturesCol("bin").transform(df));
        assertEquals(2, ExecutorModelCache.loads() - before);
        assertEquals(2, ExecutorModelCache.size());
    }

    @Test
    void bytesAreBroadcastOncePerContext() {
        SparkContext sc = SparkTestSession.get().sparkContext();
        ThetaTreeModel m = ThetaTreeModel.fromFile(ref.ttm().toString()).setFeaturesCol("bin");
        run(m.transform(df));
        long id = m.data().broadcast(sc).id();
        run(m.transform(df));
        ThetaTreeModel copy = m.copy(ParamMap.empty()).setPredictionCol("other");
        run(copy.transform(df));
        assertEquals(id, m.data().broadcast(sc).id());
        assertEquals(id, copy.data().broadcast(sc).id(), "copies share the broadcast");
    }

    @Test
    void nativeCallsArePerBatchNotPerRow() {
        List<Row> sizes = df.groupBy(functions.spark_partition_id()).count().collectAsList();
        int batch = 1000;
        long batches = 0;
        for (Row r : sizes) {
            batches += (r.getLong(1) + batch - 1) / batch;
        }
        ThetaTreeModel m = ThetaTreeModel.fromFile(ref.ttm().toString()).setFeaturesCol("bin")
                .setBatchSize(batch);
        long before = BatchScorer.NATIVE_CALLS.get();
        run(m.transform(df));
        assertEquals(2 * batches, BatchScorer.NATIVE_CALLS.get() - before,
                "one labels call and one probabilities call per batch");
        before = BatchScorer.NATIVE_CALLS.get();
        run(m.setProbabilityCol("").transform(df));
        assertEquals(batches, BatchScorer.NATIVE_CALLS.get() - before, "labels only");
    }

    @Test
    void idleModelsAreEvictedPastTheCacheSizeInLruOrder() {
        List<ReferenceData.RefModel> models = ReferenceData.models();
        assertTrue(models.size() > ExecutorModelCache.DEFAULT_CAPACITY, "enough distinct models");
        List<Model> loaded = new ArrayList<>();
        for (ReferenceData.RefModel r : models) {
            ThetaTreeModel m = ThetaTreeModel.fromBytes(r.bytes());
            try (ExecutorModelCache.Lease l = ExecutorModelCache.acquire(m.getDigest(), r::bytes)) {
                loaded.add(l.model());
            }
        }
        assertEquals(ExecutorModelCache.DEFAULT_CAPACITY, ExecutorModelCache.size());
        int evicted = models.size() - ExecutorModelCache.DEFAULT_CAPACITY;
        for (int i = 0; i < loaded.size(); i++) {
            assertEquals(i < evicted, loaded.get(i).isClosed(), "model " + i);
        }
        assertEquals(ExecutorModelCache.DEFAULT_CAPACITY, ExecutorModelCache.evictIdle());
        assertTrue(loaded.stream().allMatch(Model::isClosed));
    }

    @Test
    void modelsInUseAreNeverEvicted() {
        List<ExecutorModelCache.Lease> leases = new ArrayList<>();
        for (ReferenceData.RefModel r : ReferenceData.models()) {
            leases.add(ExecutorModelCache.acquire(ThetaTreeModel.fromBytes(r.bytes()).getDigest(),
                    r::bytes));
        }
        assertEquals(leases.size(), ExecutorModelCache.size(), "all in use, none evicted");
        assertEquals(0, ExecutorModelCache.evictIdle());
        for (ExecutorModelCache.Lease l : leases) {
            assertFalse(l.model().isClosed());
            l.close();
            l.close(); // idempotent
        }
        assertEquals(ExecutorModelCache.DEFAULT_CAPACITY, ExecutorModelCache.size());
    }

    @Test
    void concurrentFirstUseLoadsOnce() throws Exception {
        String digest = ThetaTreeModel.fromBytes(ref.bytes()).getDigest();
        long before = ExecutorModelCache.loads();
        int threads = 8;
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<ExecutorModelCache.Lease>> got = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                got.add(pool.submit(() -> {
                    go.await();
                    return ExecutorModelCache.acquire(digest, ref::bytes);
                }));
            }
            go.countDown();
            Model first = null;
            for (Future<ExecutorModelCache.Lease> f : got) {
                ExecutorModelCache.Lease l = f.get(60, TimeUnit.SECONDS);
                first = first == null ? l.model() : first;
                assertSame(first, l.model());
                l.close();
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, ExecutorModelCache.loads() - before);
    }

    @Test
    void bytesThatDoNotMatchTheDigestAreRefused() {
        String wrong = "00".repeat(32);
        ThetaTreeException e = assertThrows(ThetaTreeException.class,
                () -> ExecutorModelCache.acquire(wrong, ref::bytes));
        assertEquals(ThetaTreeException.CORRUPT, e.code());
        assertTrue(e.getMessage().contains("expected " + wrong), e.getMessage());
        assertEquals(0, ExecutorModelCache.size(), "a failed load leaves no entry");
        byte[] junk = new byte[64];
        e = assertThrows(ThetaTreeException.class, () -> ExecutorModelCache.acquire(wrong, () -> junk));
        assertEquals(0, ExecutorModelCache.size());
    }
}
