package io.thetatree.spark;

import io.thetatree.Model;
import io.thetatree.ThetaTreeException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.spark.SparkEnv;

/**
 * The native models loaded in this JVM, keyed by model digest: every task of every job that scores
 * with the same model shares one loaded {@link Model}, loaded by the first task that needs it (the
 * others wait for that load rather than loading again).
 *
 * <p>Lifetime: a task holds a {@link Lease} while it scores and closes it when its partition is
 * done (or the task ends). Models stay loaded when idle, so the next job reuses them; once more
 * than {@code spark.thetatree.modelCacheSize} (default 8) models are loaded, the least recently
 * used idle ones are closed. A model in use is never closed. {@link #evictIdle()} closes all idle
 * models at once.
 */
final class ExecutorModelCache {
    private ExecutorModelCache() {}

    static final String CAPACITY_CONF = "spark.thetatree.modelCacheSize";
    static final int DEFAULT_CAPACITY = 8;

    private static final Object LOCK = new Object();
    // Access order: iteration starts at the least recently used entry. Guarded by LOCK.
    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>(16, 0.75f, true);
    private static final AtomicLong LOADS = new AtomicLong();

    private static final class Entry {
        final String digest;
        final CompletableFuture<Model> model = new CompletableFuture<>();
        int leases; // guarded by LOCK

        Entry(String digest) {
            this.digest = digest;
        }
    }

    /** A task's use of a cached model; {@link #close()} is idempotent. */
    static final class Lease implements AutoCloseable {
        private final Entry entry;
        private final Model model;
        private boolean closed; // guarded by LOCK

        private Lease(Entry entry, Model model) {
            this.entry = entry;
            this.model = model;
        }

        Model model() {
            return model;
        }

        @Override
        public void close() {
            List<Model> evicted;
            synchronized (LOCK) {
                if (closed) {
                    return;
                }
                closed = true;
                entry.leases--;
                evicted = trimLocked(capacity());
            }
            closeAll(evicted);
        }
    }

    /**
     * The model with {@code digest}, loaded from {@code bytes} (called at most once per digest
     * while the model stays cached) if it is not loaded yet. The loaded model's digest is checked
     * against {@code digest}.
     */
    static Lease acquire(String digest, Supplier<byte[]> bytes) {
        Entry e;
        boolean loadHere = false;
        synchronized (LOCK) {
            e = ENTRIES.get(digest);
            if (e == null) {
                e = new Entry(digest);
                ENTRIES.put(digest, e);
                loadHere = true;
            }
            e.leases++;
        }
        if (loadHere) {
            load(e, bytes);
        }
        try {
            return new Lease(e, e.model.join());
        } catch (CompletionException failed) {
            synchronized (LOCK) {
                e.leases--;
            }
            Throwable cause = failed.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw failed;
        }
    }

    private static void load(Entry e, Supplier<byte[]> bytes) {
        try {
            Model m = Model.load(bytes.get());
            String got = HexFormat.of().formatHex(m.digest());
            if (!got.equals(e.digest)) {
                m.close();
                throw new ThetaTreeException(ThetaTreeException.CORRUPT, "the model bytes "
                        + "received by this executor have digest " + got + ", expected "
                        + e.digest);
            }
            LOADS.incrementAndGet();
            e.model.complete(m);
        } catch (RuntimeException | Error t) {
            synchronized (LOCK) {
                ENTRIES.remove(e.digest, e); // the next task tries again
            }
            e.model.completeExceptionally(t);
        }
        List<Model> evicted;
        synchronized (LOCK) {
            evicted = trimLocked(capacity());
        }
        closeAll(evicted);
    }

    /** Removes least recently used idle, loaded entries until at most {@code max} remain. */
    private static List<Model> trimLocked(int max) {
        List<Model> out = new ArrayList<>();
        Iterator<Entry> it = ENTRIES.values().iterator();
        int size = ENTRIES.size();
        while (size > max && it.hasNext()) {
            Entry e = it.next();
            if (e.leases == 0 && e.model.isDone() && !e.model.isCompletedExceptionally()) {
                it.remove();
                size--;
                out.add(e.model.join());
            }
        }
        return out;
    }

    private static void closeAll(List<Model> models) {
        for (Model m : models) {
            m.close();
        }
    }

    private static int capacity() {
        SparkEnv env = SparkEnv.get();
        int c = env == null ? DEFAULT_CAPACITY : env.conf().getInt(CAPACITY_CONF, DEFAULT_CAPACITY);
        return Math.max(0, c);
    }

    /** Closes every model no task is using; returns how many were closed. */
    static int evictIdle() {
        List<Model> evicted;
        synchronized (LOCK) {
            evicted = trimLocked(0);
        }
        closeAll(evicted);
        return evicted.size();
    }

    /** Number of models loaded (or loading) in this JVM. */
    static int size() {
        synchronized (LOCK) {
            return ENTRIES.size();
        }
    }

    /** Number of native loads since this JVM started (each digest once while it stays cached). */
    static long loads() {
        return LOADS.get();
    }
}
