package io.thetatree;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * The reference fixtures the tests compare against: system property or env
 * {@code TT_REFERENCE_DIR}, else the directory bundled in the repository,
 * {@code <repo>/tests/data/reference}. Files are named by their plain name ({@code X.csv}) and
 * read whether stored plain or gzip-compressed ({@code X.csv.gz}, as the repository stores the
 * large CSVs). Missing data fails the test.
 */
public final class ReferenceData {
    private ReferenceData() {}

    /** The repository root: system property {@code thetatree.repo} (set by the pom), else ../.. */
    public static Path repo() {
        String p = System.getProperty("thetatree.repo");
        return (p != null ? Path.of(p) : Path.of("../..")).toAbsolutePath().normalize();
    }

    public static Path dir() {
        String v = System.getProperty("TT_REFERENCE_DIR");
        if (v == null || v.isEmpty()) {
            v = System.getenv("TT_REFERENCE_DIR");
        }
        Path p = v != null && !v.isEmpty() ? Path.of(v) : repo().resolve("tests/data/reference");
        p = p.toAbsolutePath().normalize();
        if (!Files.isDirectory(p.resolve("golden"))) {
            fail("reference data not found at " + p
                    + " (TT_REFERENCE_DIR overrides tests/data/reference)");
        }
        return p;
    }

    /** The uncompressed bytes of {@code rel}: the file itself, or {@code rel.gz} decompressed. */
    public static InputStream open(String rel) {
        Path plain = dir().resolve(rel);
        try {
            if (Files.exists(plain)) {
                return Files.newInputStream(plain);
            }
            Path gz = dir().resolve(rel + ".gz");
            if (!Files.exists(gz)) {
                fail("reference file not found: " + plain + " (nor " + gz.getFileName() + ")");
            }
            // GZIPInputStream checks the trailer's CRC-32 and length at the end.
            return new GZIPInputStream(new BufferedInputStream(Files.newInputStream(gz)), 1 << 16);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + plain + "[.gz]", e);
        }
    }

    public static byte[] readBytes(String rel) {
        try (InputStream in = open(rel)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + rel + " in " + dir(), e);
        }
    }

    public static String readString(String rel) {
        return new String(readBytes(rel), StandardCharsets.UTF_8);
    }

    /** Lines without terminators, as {@link java.io.BufferedReader#readLine} splits them. */
    public static List<String> readLines(String rel) {
        return readString(rel).lines().toList();
    }
}
