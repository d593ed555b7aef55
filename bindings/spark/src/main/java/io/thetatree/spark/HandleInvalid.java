package io.thetatree.spark;

import java.util.List;
import java.util.Locale;

/**
 * What to do with a row that cannot be scored: a value other than 0, 1 or missing on the row's
 * path through the tree, a null features value, or a features value of the wrong length. Same
 * names and meaning as the {@code handleInvalid} of Spark ML's own stages.
 */
enum HandleInvalid {
    /** Fail the task, naming the row, the feature and its value (the default). */
    ERROR,
    /** Drop the row from the output. */
    SKIP,
    /** Keep the row, with null in every output column. */
    KEEP;

    /** The param values, as Spark ML spells them. */
    static final List<String> NAMES = List.of("error", "skip", "keep");

    static HandleInvalid of(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
