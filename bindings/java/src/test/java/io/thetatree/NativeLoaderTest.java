package io.thetatree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The three ways NativeLoader finds the library, each in a fresh JVM. */
class NativeLoaderTest {
    @TempDir Path tmp;

    record Result(int exit, String output) {}

    static Path classesDir() throws Exception {
        return Path.of(Model.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    static Path testClassesDir() throws Exception {
        return Path.of(NativeLoaderTest.class.getProtectionDomain().getCodeSource().getLocation()
                .toURI());
    }

    static Path bundledLibrary() throws Exception {
        Path p = classesDir().resolve(NativeLoader.resourcePath().substring(1));
        assertTrue(Files.isRegularFile(p), p + " (built by src/main/native/build.sh)");
        return p;
    }

    static Result runJava(List<String> jvmArgs, String mainClass, String classpath,
            String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM timed out");
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    private static String bothClassDirs() throws Exception {
        return classesDir() + File.pathSeparator + testClassesDir();
    }

    @Test
    void thisJvmLoadedTheBundledResource() throws Exception {
        bundledLibrary();
        String from = NativeLoader.loadedFrom();
        assertTrue(from.endsWith(NativeLoader.resourcePath()), from);
    }

    @Test
    void bundledResourceInAFreshJvm() throws Exception {
        Result r = runJava(List.of("-Xcheck:jni"), "io.thetatree.LoaderProbe", bothClassDirs());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("loadedFrom=" + bundledLibrary().toUri().toURL()), r.output());
        assertTrue(r.output().contains("abi=" + Native.EXPECTED_ABI_VERSION), r.output());
        assertTrue(!r.output().contains("WARNING"), r.output());
    }

    @Test
    void explicitPathProperty() throws Exception {
        Path copy = Files.copy(bundledLibrary(), tmp.resolve("custom-name.so"));
        Result r = runJava(List.of("-D" + NativeLoader.PATH_PROPERTY + "=" + copy),
                "io.thetatree.LoaderProbe", bothClassDirs());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("loadedFrom=" + copy.toAbsolutePath()), r.output());

        Result bad = runJava(List.of("-D" + NativeLoader.PATH_PROPERTY + "=" + tmp.resolve("nope.so")),
                "io.thetatree.LoaderProbe", bothClassDirs());
        assertNotEquals(0, bad.exit(), bad.output());
        assertTrue(bad.output().contains("UnsatisfiedLinkError"), bad.output());
        assertTrue(bad.output().contains("nope.so"), bad.output());
    }

    @Test
    void javaLibraryPath() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("lib"));
        Files.copy(bundledLibrary(), dir.resolve(System.mapLibraryName(NativeLoader.LIB_NAME)));
        Result r = runJava(List.of("-D" + NativeLoader.USE_LIBRARY_PATH_PROPERTY + "=true",
                "-Djava.library.path=" + dir), "io.thetatree.LoaderProbe", bothClassDirs());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("loadedFrom=java.library.path"), r.output());

        // Asked to use java.library.path, but the library is not there: a clear link error.
        Result missing = runJava(List.of("-D" + NativeLoader.USE_LIBRARY_PATH_PROPERTY + "=true",
                "-Djava.library.path=" + tmp.resolve("empty")), "io.thetatree.LoaderProbe",
                bothClassDirs());
        assertNotEquals(0, missing.exit(), missing.output());
        assertTrue(missing.output().contains("UnsatisfiedLinkError"), missing.output());
    }

    @Test
    void noBundledLibraryFallsBackToLibraryPath() throws Exception {
        // A class directory without the native resource.
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        Path src = classesDir();
        try (var files = Files.walk(src)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path rel = src.relativize(p);
                if (rel.toString().startsWith("io/thetatree/native")) {
                    continue;
                }
                if (Files.isDirectory(p)) {
                    Files.createDirectories(classes.resolve(rel.toString()));
                } else {
                    Files.copy(p, classes.resolve(rel.toString()));
                }
            }
        }
        String cp = classes + File.pathSeparator + testClassesDir();
        Result none = runJava(List.of(), "io.thetatree.LoaderProbe", cp);
        assertNotEquals(0, none.exit(), none.output());
        assertTrue(none.output().contains("no bundled"), none.output());
        assertTrue(none.output().contains(NativeLoader.PATH_PROPERTY), none.output());

        Path dir = Files.createDirectories(tmp.resolve("lib"));
        Files.copy(bundledLibrary(), dir.resolve(System.mapLibraryName(NativeLoader.LIB_NAME)));
        Result r = runJava(List.of("-Djava.library.path=" + dir), "io.thetatree.LoaderProbe", cp);
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("loadedFrom=java.library.path"), r.output());
    }

    @Test
    void platformName() {
        assertNotNull(NativeLoader.platform());
        assertTrue(NativeLoader.resourcePath().startsWith("/io/thetatree/native/"
                + NativeLoader.platform() + "/"));
    }
}
