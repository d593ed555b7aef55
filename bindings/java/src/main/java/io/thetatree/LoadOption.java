package io.thetatree;

/** Options for {@link Model#load(java.nio.file.Path, LoadOption...)}. */
public enum LoadOption {
    /**
     * Read the file into memory instead of memory-mapping it ({@code TT_LOAD_COPY}). Use this when
     * the model file may be rewritten in place while it is loaded: with the default mapping, an
     * in-place rewrite can crash the process (SIGBUS). Replacing files by rename is always safe.
     */
    COPY
}
