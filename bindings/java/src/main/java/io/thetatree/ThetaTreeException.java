package io.thetatree;

import java.nio.charset.StandardCharsets;

/**
 * A failure reported by libthetatree (or detected by this binding before calling it), with the
 * fields of the C {@code tt_error}: the stable status {@link #code()} (one of the constants below,
 * equal to the {@code TT_ERR_*} macros of {@code thetatree.h}), {@link #row()} and {@link
 * #column()} of an offending input value ({@code -1} when they do not apply), and the {@link
 * #byteOffset()} of the offending field in a model file ({@code 0} if none).
 *
 * <p>Unchecked on purpose: predict failures are programming errors (wrong shape, bad values), and
 * load failures are usually fatal for the caller; a checked exception would only be wrapped at
 * every lambda / stream / executor boundary where batch scoring typically runs. Callers that want
 * to handle a case branch on {@link #code()}.
 *
 * <p>Errors in how the binding itself is used that have no C counterpart are reported with the
 * standard Java exceptions instead: {@link IllegalStateException} for a closed model, {@link
 * IllegalArgumentException} for a heap (non-direct), read-only or wrongly ordered buffer, {@link
 * NullPointerException} for null arguments, {@link IndexOutOfBoundsException} for negative offsets.
 */
public class ThetaTreeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public static final int OK = 0;
    public static final int NULL_ARG = 1;
    public static final int LENGTH = 2;
    public static final int SHAPE = 3;
    public static final int INPUT_VALUE = 4;
    public static final int IO = 5;
    public static final int BAD_MAGIC = 6;
    public static final int VERSION = 7;
    public static final int ENDIAN = 8;
    public static final int TRUNCATED = 9;
    public static final int TRAILING_BYTES = 10;
    public static final int CHECKSUM = 11;
    public static final int BOUNDS = 12;
    public static final int LAYOUT = 13;
    public static final int LIMIT = 14;
    public static final int GRAPH = 15;
    public static final int CORRUPT = 16;
    public static final int FLAGS = 17;
    public static final int PANIC = 18;
    public static final int NOT_FOUND = 19;
    public static final int ALIGNMENT = 20;
    public static final int UNSIGNED = 21;
    public static final int KEY_MISMATCH = 22;
    public static final int BAD_SIGNATURE = 23;
    public static final int NO_KEY = 24;

    private static final String[] NAMES = {
        "TT_OK",
        "TT_ERR_NULL_ARG",
        "TT_ERR_LENGTH",
        "TT_ERR_SHAPE",
        "TT_ERR_INPUT_VALUE",
        "TT_ERR_IO",
        "TT_ERR_BAD_MAGIC",
        "TT_ERR_VERSION",
        "TT_ERR_ENDIAN",
        "TT_ERR_TRUNCATED",
        "TT_ERR_TRAILING_BYTES",
        "TT_ERR_CHECKSUM",
        "TT_ERR_BOUNDS",
        "TT_ERR_LAYOUT",
        "TT_ERR_LIMIT",
        "TT_ERR_GRAPH",
        "TT_ERR_CORRUPT",
        "TT_ERR_FLAGS",
        "TT_ERR_PANIC",
        "TT_ERR_NOT_FOUND",
        "TT_ERR_ALIGNMENT",
        "TT_ERR_UNSIGNED",
        "TT_ERR_KEY_MISMATCH",
        "TT_ERR_BAD_SIGNATURE",
        "TT_ERR_NO_KEY",
    };

    private final int code;
    private final String codeName;
    private final String detail;
    private final long row;
    private final long column;
    private final long byteOffset;

    /** An error with the given details; {@code row}/{@code column} -1 when not applicable. */
    public ThetaTreeException(int code, String detail, long row, long column, long byteOffset) {
        this(code, codeName(code), detail, row, column, byteOffset);
    }

    /** An error without input position or file offset. */
    public ThetaTreeException(int code, String detail) {
        this(code, detail, -1, -1, 0);
    }

    /** Called from JNI: the message arrives as the C library's UTF-8 bytes. */
    ThetaTreeException(
            int code, String codeName, byte[] detailUtf8, long row, long column, long byteOffset) {
        this(code, codeName, new String(detailUtf8, StandardCharsets.UTF_8), row, column,
                byteOffset);
    }

    private ThetaTreeException(
            int code, String codeName, String detail, long row, long column, long byteOffset) {
        super(codeName + ": " + detail);
        this.code = code;
        this.codeName = codeName;
        this.detail = detail;
        this.row = row;
        this.column = column;
        this.byteOffset = byteOffset;
    }

    /** The stable status code ({@code TT_ERR_*}). */
    public int code() {
        return code;
    }

    /** The macro name of the code, e.g. {@code "TT_ERR_CHECKSUM"}. */
    public String codeName() {
        return codeName;
    }

    /** The library's message without the code name. */
    public String detail() {
        return detail;
    }

    /** Row (0-based, relative to the first row passed) of a bad input value, else -1. */
    public long row() {
        return row;
    }

    /** Column (feature index) of a bad input value, else -1. */
    public long column() {
        return column;
    }

    /** Offset in the model file of the offending field, 0 if none. */
    public long byteOffset() {
        return byteOffset;
    }

    /**
     * The macro name of a status code, as {@code tt_status_str} gives it ({@code "TT_ERR_UNKNOWN"}
     * for codes this binding does not know).
     */
    public static String codeName(int code) {
        return code >= 0 && code < NAMES.length ? NAMES[code] : "TT_ERR_UNKNOWN";
    }
}
