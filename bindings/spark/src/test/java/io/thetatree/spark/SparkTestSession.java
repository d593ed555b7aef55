package io.thetatree.spark;

import org.apache.spark.sql.SparkSession;

/**
 * The one SparkSession of the test JVM: local[2], loopback only, no UI. The {@code ttmem:} scheme
 * is the in-memory Hadoop file system of {@link MemoryFileSystem}, set through {@code
 * spark.hadoop.*} like any user's file system settings.
 */
final class SparkTestSession {
    private SparkTestSession() {}

    private static SparkSession spark;

    static synchronized SparkSession get() {
        if (spark == null) {
            spark = SparkSession.builder()
                    .master("local[2]")
                    .appName("thetatree-spark-tests")
                    .config("spark.driver.host", "127.0.0.1")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.sql.shuffle.partitions", "4")
                    .config("spark.hadoop.fs." + MemoryFileSystem.SCHEME + ".impl",
                            MemoryFileSystem.class.getName())
                    .getOrCreate();
        }
        return spark;
    }
}
