package io.thetatree.spark;

import java.io.Serializable;
import org.apache.spark.sql.Row;

/**
 * Copies the features of one input {@link Row} into a slot of a {@link BatchBuffer} as int8 cells,
 * in the model's feature order. A reader only converts values (see {@link RowReaders}): whether a
 * value is acceptable is decided by the library when it walks the row, so that rule lives in one
 * place. Made on the driver from the input schema ({@link InputSchema}), shipped to the executors.
 */
interface RowReader extends Serializable {
    /**
     * Writes the row's cells into {@code slot}. Returns null, or why the row has no cells to score
     * (null features value, wrong length); the slot then holds zeros, which the library accepts.
     */
    String fill(Row row, BatchBuffer buf, int slot);

    /** The row's source value for feature {@code feature}, as text, for an error message. */
    String valueOf(Row row, int feature);

    /** Where feature {@code feature} is read from, for messages: {@code features column 'f'}. */
    String sourceOf(int feature);
}
