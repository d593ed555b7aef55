package io.thetatree;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

/**
 * Loads {@code libthetatree_jni} once per class loader, in this order:
 *
 * <ol>
 *   <li>system property {@code thetatree.native.path}: an explicit file, loaded with {@link
 *       System#load};
 *   <li>{@link System#loadLibrary}{@code ("thetatree_jni")} through {@code java.library.path}, if
 *       system property {@code thetatree.native.useLibraryPath} is {@code true} or the jar has no
 *       bundled library for this platform;
 *   <li>otherwise the bundled resource {@code /io/thetatree/native/<os>-<arch>/libthetatree_jni.so}
 *       is copied to a private temporary file and loaded from there (the file is deleted right
 *       after loading; the mapping stays valid).
 * </ol>
 *
 * Then the ABI is checked: the library's {@code tt_abi_version()}, the {@code TT_ABI_VERSION} the
 * shim was compiled with, and the version this Java code expects must all agree.
 */
public final class NativeLoader {
    public static final String PATH_PROPERTY = "thetatree.native.path";
    public static final String USE_LIBRARY_PATH_PROPERTY = "thetatree.native.useLibraryPath";
    static final String LIB_NAME = "thetatree_jni";

    private static volatile String loadedFrom;
    private static Throwable failure;
    private static boolean loading; // re-entry from Native's static initialiser during checkAbi

    private NativeLoader() {}

    /** Where the native library was loaded from (a path, or "java.library.path"). */
    public static String loadedFrom() {
        ensureLoaded();
        return loadedFrom;
    }

    /** The platform directory name used for bundled libraries, e.g. {@code linux-x86_64}. */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.startsWith("linux") ? "linux" : os.replaceAll("[^a-z0-9]", "");
        String a;
        switch (arch) {
            case "amd64":
            case "x86_64":
                a = "x86_64";
                break;
            case "aarch64":
            case "arm64":
                a = "aarch64";
                break;
            default:
                a = arch.replaceAll("[^a-z0-9_]", "");
        }
        return o + "-" + a;
    }

    static String resourcePath() {
        return "/io/thetatree/native/" + platform() + "/" + System.mapLibraryName(LIB_NAME);
    }

    static synchronized void ensureLoaded() {
        if (loadedFrom != null || loading) {
            return;
        }
        if (failure != null) {
            throw linkError("thetatree native library failed to load earlier", failure);
        }
        loading = true;
        try {
            String where = load();
            checkAbi();
            loadedFrom = where;
        } catch (Throwable t) {
            failure = t;
            if (t instanceof UnsatisfiedLinkError) {
                throw (UnsatisfiedLinkError) t;
            }
            throw linkError("cannot load the thetatree native library", t);
        } finally {
            loading = false;
        }
    }

    private static UnsatisfiedLinkError linkError(String msg, Throwable cause) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError(msg + ": " + cause.getMessage());
        e.initCause(cause);
        return e;
    }

    private static String load() throws IOException {
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit != null && !explicit.isEmpty()) {
            String abs = Path.of(explicit).toAbsolutePath().toString();
            System.load(abs);
            return abs;
        }
        URL res = NativeLoader.class.getResource(resourcePath());
        if (Boolean.getBoolean(USE_LIBRARY_PATH_PROPERTY) || res == null) {
            try {
                System.loadLibrary(LIB_NAME);
            } catch (UnsatisfiedLinkError e) {
                if (res == null) {
                    throw linkError(
                            "no bundled " + resourcePath() + " for this platform and "
                                    + System.mapLibraryName(LIB_NAME)
                                    + " is not on java.library.path (set -D" + PATH_PROPERTY
                                    + "=/path/to/" + System.mapLibraryName(LIB_NAME) + ")",
                            e);
                }
                throw e;
            }
            return "java.library.path";
        }
        Path tmp;
        try {
            tmp = Files.createTempFile(
                    "libthetatree_jni-",
                    ".so",
                    PosixFilePermissions.asFileAttribute(
                            PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            tmp = Files.createTempFile("libthetatree_jni-", ".so");
        }
        try (InputStream in = res.openStream()) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            System.load(tmp.toAbsolutePath().toString());
            return res.toString();
        } finally {
            // Loaded (or failed): the mapping does not need the directory entry any more.
            Files.deleteIfExists(tmp);
        }
    }

    private static void checkAbi() {
        int lib = Native.abiVersion();
        int header = Native.headerAbiVersion();
        if (lib != header || header != Native.EXPECTED_ABI_VERSION) {
            throw new UnsatisfiedLinkError(
                    "thetatree ABI mismatch: libthetatree reports tt_abi_version() = " + lib
                            + ", the JNI shim was compiled against TT_ABI_VERSION = " + header
                            + ", this Java binding expects " + Native.EXPECTED_ABI_VERSION
                            + " (rebuild bindings/java against the current include/thetatree.h)");
        }
        String libVersion = new String(Native.libraryVersion(), StandardCharsets.UTF_8);
        String headerVersion = new String(Native.headerVersion(), StandardCharsets.UTF_8);
        if (!libVersion.equals(headerVersion)) {
            throw new UnsatisfiedLinkError(
                    "thetatree version mismatch: library " + libVersion + ", header "
                            + headerVersion);
        }
    }
}
